# SPDX-License-Identifier: Apache-2.0
# bounded reads of user files, and the configuration readers built on them
fst_add_unit_test(fst-file-test ${CMAKE_CURRENT_LIST_DIR}/fst-file-test.c)
