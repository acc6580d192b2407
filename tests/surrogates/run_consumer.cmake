# Test surrogates_install_consumer: trains and exports a model with the tool, installs surge
# into a fresh prefix, configures and builds tests/surrogates/consumer against it, and checks
# that the consumer's prediction is the tool's prediction.
# -D TOOL=... BUILD_DIR=... SOURCE_DIR=... WORK=...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
set(args 450 150 300 250 0.6)
run(${TOOL} train ${WORK}/model)
run(${TOOL} predict ${WORK}/model ${args})
set(expected "${out}")
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix)
foreach(f include/surge/surrogate.hpp include/surge/surrogates/trainer.hpp
          include/surge/core/version.hpp lib/cmake/surge/surgeConfig.cmake)
  if(NOT EXISTS ${WORK}/prefix/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/surrogates/consumer -B ${WORK}/build
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${WORK}/prefix)
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/consumer ${WORK}/model ${args})
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "consumer printed\n${out}but the tool printed\n${expected}")
endif()
message(STATUS "consumer: ${out}")
