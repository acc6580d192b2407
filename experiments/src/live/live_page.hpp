#pragma once
// The live page itself: its HTML and its script, which polls state.json once a second and
// draws with Chart.js. Each chart's canvas carries the numbers it holds (data-count, data-last)
// so that tests and scripts read them from the DOM.

#include <string>

namespace surge::experiments {

[[nodiscard]] const std::string& live_page_html();
[[nodiscard]] const std::string& live_page_script();

}  // namespace surge::experiments
