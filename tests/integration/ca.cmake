# SPDX-License-Identifier: Apache-2.0
# CA management from the command line: `fleetstation ca ...` and
# `revoke`, checked with openssl and certtool; a CA key in a SoftHSM2 token; and
# the workspace around the CA (atomic creation, lost database, lock, modes)
foreach(fst_ca_script ca-cli-test ca-pkcs11-test ca-workspace-test)
	add_test(NAME ${fst_ca_script} COMMAND ${CMAKE_CURRENT_LIST_DIR}/${fst_ca_script}.sh)
	set_tests_properties(${fst_ca_script} PROPERTIES LABELS integration ENVIRONMENT "${FST_TEST_ENV}" TIMEOUT 120)
endforeach()
