#include "surge/core/c_api.hpp"

#include <exception>
#include <new>

#include "surge/core/error.hpp"

namespace surge::core::c_api {

Failure current_failure() noexcept {
  try {
    try {
      throw;
    } catch (const ConfigError& e) {
      return {CallFailure::argument, e.message()};
    } catch (const IoError& e) {
      return {CallFailure::io, e.message()};
    } catch (const ProtocolError& e) {
      return {CallFailure::protocol, e.message()};
    } catch (const Error& e) {
      return {CallFailure::internal, e.message()};
    } catch (const std::bad_alloc&) {
      return {CallFailure::out_of_memory, "out of memory"};
    } catch (const std::exception& e) {
      const std::string what = e.what();
      return {CallFailure::internal, what.substr(0, what.find('\n'))};
    } catch (...) {
      return {CallFailure::internal, "unknown exception"};
    }
  } catch (...) {  // copying a message failed: memory is short
    return {CallFailure::out_of_memory, {}};
  }
}

}  // namespace surge::core::c_api
