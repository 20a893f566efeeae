# SPDX-License-Identifier: Apache-2.0
add_test(NAME demo-end-to-end COMMAND ${CMAKE_CURRENT_LIST_DIR}/demo-test.sh)
set_tests_properties(demo-end-to-end PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)

add_executable(fst-pipeline-test ${CMAKE_CURRENT_LIST_DIR}/fst-pipeline-test.c)
target_link_libraries(fst-pipeline-test PRIVATE fststation)
add_test(NAME fst-pipeline-test COMMAND fst-pipeline-test --tap)
set_tests_properties(fst-pipeline-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)

# the engine's job API driven as the GUI will: engine library only, no CLI code
add_executable(fst-job-test ${CMAKE_CURRENT_LIST_DIR}/fst-job-test.c)
target_link_libraries(fst-job-test PRIVATE fststation)
add_test(NAME fst-job-test COMMAND fst-job-test --tap)
set_tests_properties(fst-job-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)

# the dialect registry: a second dialect registered by the test, driven by
# the gang and the pipeline
add_executable(fst-dialect-test ${CMAKE_CURRENT_LIST_DIR}/fst-dialect-test.c)
target_link_libraries(fst-dialect-test PRIVATE fststation OpenSSL::Crypto util)
add_test(NAME fst-dialect-test COMMAND fst-dialect-test --tap)
set_tests_properties(fst-dialect-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 120)
