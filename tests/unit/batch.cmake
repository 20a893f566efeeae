# SPDX-License-Identifier: Apache-2.0
# batch manifests: CSV and JSON parsing, quoting and line-numbered errors
fst_add_unit_test(fst-batch-test ${CMAKE_CURRENT_LIST_DIR}/fst-batch-test.c)
