# SPDX-License-Identifier: Apache-2.0
# devices that come back (rework, rotation into A/B slots, trust-only jobs) and key
# escrow, against simulated devices on ptys and a real SQLite file
add_executable(fst-rework-test ${CMAKE_CURRENT_LIST_DIR}/fst-rework-test.c)
target_link_libraries(fst-rework-test PRIVATE fststation)
add_dependencies(fst-rework-test fleetstation-devsim fleetstation)
add_test(NAME fst-rework-test COMMAND fst-rework-test --tap)
set_tests_properties(fst-rework-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
add_test(NAME fst-cli-rework-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-rework-test.sh)
set_tests_properties(fst-cli-rework-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
