# SPDX-License-Identifier: Apache-2.0
# the station against simulated devices that fail like hardware:
# bit errors, lost bytes, unplug, stall, reboot mid-write, a lying device,
# full storage, a device without its key; real ptys, real SQLite, real CA
add_executable(fst-faults-test ${CMAKE_CURRENT_LIST_DIR}/fst-faults-test.c)
target_link_libraries(fst-faults-test PRIVATE fststation)
add_dependencies(fst-faults-test fleetstation-devsim)
add_test(NAME fst-faults-test COMMAND fst-faults-test --tap)
set_tests_properties(fst-faults-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
