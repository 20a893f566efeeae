# SPDX-License-Identifier: Apache-2.0
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
# the reference copies of the Amazon, Starfield and VeriSign roots beside the tree, if present
if(EXISTS ${PROJECT_SOURCE_DIR}/../shared/trust/SHA256SUMS.txt)
	set_property(TEST fst-trust-test APPEND PROPERTY ENVIRONMENT
		FST_SHARED_TRUST_SUMS=${PROJECT_SOURCE_DIR}/../shared/trust/SHA256SUMS.txt)
endif()
# where the PKCS#11 module and the libp11 engine come from: p11-kit's module
# configs, OpenSSL's engines directory
fst_add_unit_test(fst-ca-pkcs11-test ${CMAKE_CURRENT_LIST_DIR}/fst-ca-pkcs11-test.c)
