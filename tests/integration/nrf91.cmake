# SPDX-License-Identifier: Apache-2.0
# the nrf91 dialect against fleetstation-nrf91sim over real ptys: the
# nrf91.profile end to end, the CSR quirk of old firmware, the attestation
# key, and every +CME ERROR the modem answers mapped to a station error
add_executable(fst-nrf91-test ${CMAKE_CURRENT_LIST_DIR}/fst-nrf91-test.c)
target_link_libraries(fst-nrf91-test PRIVATE fststation OpenSSL::Crypto)
add_dependencies(fst-nrf91-test fleetstation-nrf91sim)
add_test(NAME fst-nrf91-test COMMAND fst-nrf91-test --tap)
set_tests_properties(fst-nrf91-test PROPERTIES LABELS integration
	ENVIRONMENT "${FST_TEST_ENV};FST_NRF91SIM=$<TARGET_FILE:fleetstation-nrf91sim>" TIMEOUT 300)
