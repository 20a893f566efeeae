# SPDX-License-Identifier: Apache-2.0
# nrf91: the AT response parser on exact bytes
fst_add_unit_test(fst-nrf91-at-test
	${CMAKE_CURRENT_LIST_DIR}/fst-nrf91-at-test.c)
target_link_libraries(fst-nrf91-at-test PRIVATE fstprotocols)
