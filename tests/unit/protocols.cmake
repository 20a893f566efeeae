# SPDX-License-Identifier: Apache-2.0
# FSP: the frame codec, and the station driver against the device SDK
fst_add_unit_test(fst-fsp-wire-test
	${CMAKE_CURRENT_LIST_DIR}/fst-fsp-wire-test.c)
target_link_libraries(fst-fsp-wire-test PRIVATE fstwire)

fst_add_unit_test(fst-fsp-device-test
	${CMAKE_CURRENT_LIST_DIR}/fst-fsp-device-test.c
	${CMAKE_CURRENT_LIST_DIR}/fst-test-fd-transport.c)
target_include_directories(fst-fsp-device-test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fst-fsp-device-test PRIVATE fstdevsimhal fstprotocols fstdevsdk OpenSSL::Crypto)

# the simulator binary against its command-line contract (FST_DEVSIM)
fst_add_unit_test(fst-fsp-devsim-test
	${CMAKE_CURRENT_LIST_DIR}/fst-fsp-devsim-test.c
	${CMAKE_CURRENT_LIST_DIR}/fst-test-fd-transport.c)
target_include_directories(fst-fsp-devsim-test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(fst-fsp-devsim-test PRIVATE fstprotocols OpenSSL::Crypto)
add_dependencies(fst-fsp-devsim-test fleetstation-devsim)
