# SPDX-License-Identifier: Apache-2.0
# root CAs from the command line: the catalogue, the reasons recorded per device,
# the expiry warning and report, a forged user root; simulated devices on ptys
add_test(NAME fst-cli-roots-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-cli-roots-test.sh)
set_tests_properties(fst-cli-roots-test PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 300)
