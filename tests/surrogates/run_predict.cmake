# Test surrogates_predict_command: `surge predict <model-dir> key=value... --out pred.h5`
# writes the surrogate's fields at the model's output times in the Well layout (checked bit
# for bit by the tool) that scripts/check_well_file.py passes, and a missing parameter is a
# usage error naming it.
# -D TOOL=... SURGE=... WORK=...
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()
run(${TOOL} train ${WORK}/model)
run(${SURGE} predict ${WORK}/model b1=450 b2=150 b3=300 b4=250 --out ${WORK}/pred.h5)
run(${TOOL} check-well ${WORK}/model ${WORK}/pred.h5 450 150 300 250)
run(/usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/../../scripts/check_well_file.py ${WORK}/pred.h5)
execute_process(COMMAND ${SURGE} predict ${WORK}/model b1=450 b2=150 b3=300 --out ${WORK}/x.h5
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "missing parameter 'b4'")
  message(FATAL_ERROR "a missing parameter gave exit code ${rc} and: ${err}")
endif()
execute_process(COMMAND ${SURGE} predict ${WORK}/nowhere b1=1 --out ${WORK}/y.h5
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "does not exist")
  message(FATAL_ERROR "a missing model gave exit code ${rc} and: ${err}")
endif()
