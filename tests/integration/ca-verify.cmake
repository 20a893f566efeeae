# SPDX-License-Identifier: Apache-2.0
# issued chains checked by others (openssl verify, GnuTLS certtool, mbedTLS) and
# used for TLS 1.2 mutual authentication with a local mosquitto broker (mosquitto_pub and
# an mbedTLS client); see tests/integration/fst-verify-test.c and fst-mqtt-test.c
find_library(FST_MBEDTLS_LIB mbedtls)
find_library(FST_MBEDX509_LIB mbedx509)
find_library(FST_MBEDCRYPTO_LIB mbedcrypto)
if(FST_MBEDTLS_LIB AND FST_MBEDX509_LIB AND FST_MBEDCRYPTO_LIB)
	add_executable(fst-verify-mbedtls ${CMAKE_CURRENT_LIST_DIR}/fst-verify-mbedtls.c)
	target_link_libraries(fst-verify-mbedtls PRIVATE
		${FST_MBEDTLS_LIB} ${FST_MBEDX509_LIB} ${FST_MBEDCRYPTO_LIB})
	foreach(fst_test fst-verify-test fst-mqtt-test)
		add_executable(${fst_test} ${CMAKE_CURRENT_LIST_DIR}/${fst_test}.c
			${CMAKE_CURRENT_LIST_DIR}/../unit/fst-test-pki.c)
		target_include_directories(${fst_test} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../unit)
		target_compile_definitions(${fst_test} PRIVATE
			FST_VERIFY_MBEDTLS="$<TARGET_FILE:fst-verify-mbedtls>")
		target_link_libraries(${fst_test} PRIVATE fststation)
		add_dependencies(${fst_test} fst-verify-mbedtls fleetstation-nrf91sim)
		add_test(NAME ${fst_test} COMMAND ${fst_test} --tap)
		set_tests_properties(${fst_test} PROPERTIES LABELS integration
			ENVIRONMENT "${FST_TEST_ENV};FST_NRF91SIM=$<TARGET_FILE:fleetstation-nrf91sim>" TIMEOUT 300)
	endforeach()
else()
	foreach(fst_test fst-verify-test fst-mqtt-test)
		fst_add_missing_test(${fst_test} integration
			"libmbedtls-dev is missing: apt-get install libmbedtls-dev and configure again")
	endforeach()
endif()
