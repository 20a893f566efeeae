# unit tests of the CA, the profiles and the trust catalogue (station/fst-{ca,profile,trust}.c);
# fst-test-pki.c makes keys, CAs and profiles on the fly for them and for the integration tests
# and benchmark of issuance
foreach(fst_ca_test fst-ca-test fst-profile-test fst-trust-test fst-keypool-test)
	fst_add_unit_test(${fst_ca_test} ${CMAKE_CURRENT_LIST_DIR}/${fst_ca_test}.c
		${CMAKE_CURRENT_LIST_DIR}/fst-test-pki.c)
	target_compile_definitions(${fst_ca_test} PRIVATE
		FST_TEST_DATA_DIR="${CMAKE_CURRENT_LIST_DIR}/../data/ca"
		FST_TEST_TEMPLATES_DIR="${CMAKE_CURRENT_LIST_DIR}/../../templates")
endforeach()
