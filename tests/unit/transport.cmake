# SPDX-License-Identifier: Apache-2.0
fst_add_unit_test(fst-serial-transport-test ${CMAKE_CURRENT_LIST_DIR}/fst-serial-transport-test.c)
target_link_libraries(fst-serial-transport-test PRIVATE util)
