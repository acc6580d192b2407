#pragma once
// The live page's state read back from a study's results.h5 (`surge view`), so that the page
// of a finished study and its final plots tell the same story.

#include <filesystem>

#include "live/live_state.hpp"

namespace surge::experiments {

// Throws core::IoError when the file is not a study's results.h5 (unreadable, no training
// group, no batches attribute).
[[nodiscard]] LiveState read_live_state(const std::filesystem::path& results);
// The training and validation curves of a results.h5, or of a study checkpoint's study.h5
// (none if it has no training/ group: checkpoints before the curves were kept), onto `board`.
// Throws core::IoError.
void read_curves(const std::filesystem::path& file, LiveBoard& board);
// The image results.h5 ends with: the last frame of the first member of predictions/ (no image
// when there is none or the fields are not 2-D grids). Throws core::IoError.
[[nodiscard]] LiveImage read_live_image(const std::filesystem::path& results);

}  // namespace surge::experiments
