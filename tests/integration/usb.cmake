# SPDX-License-Identifier: Apache-2.0
# FSP over a USB device's own bulk endpoints: umockdev emulates the device
# for libusb and the device SDK (the real FSP device code) answers its bulk
# transfers, so the station's libusb transport runs end to end
pkg_check_modules(UMOCKDEV IMPORTED_TARGET umockdev-1.0>=0.17)
find_program(UMOCKDEV_WRAPPER umockdev-wrapper)
if(UMOCKDEV_FOUND AND UMOCKDEV_WRAPPER)
	add_executable(fst-usb-test ${CMAKE_CURRENT_LIST_DIR}/fst-usb-test.c)
	target_link_libraries(fst-usb-test PRIVATE fststation fstdevsimhal fstdevsdk PkgConfig::UMOCKDEV OpenSSL::Crypto)
	# the mixed line: FSP over emulated ttyUSB and USB bulk, and an nRF91
	add_dependencies(fst-usb-test fleetstation-devsim fleetstation-nrf91sim)
	# umockdev's testbed directory lives until the process exits: in a TMPDIR
	# of the test's own, removed after it
	add_test(NAME fst-usb-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-private-tmp.sh
		${UMOCKDEV_WRAPPER} $<TARGET_FILE:fst-usb-test> --tap)
	# umockdev-wrapper preloads its library ahead of ASan's runtime: the
	# sanitizer build is told to accept that, on top of the options the
	# caller set (the sanitizer stage's leak checks)
	set_tests_properties(fst-usb-test PROPERTIES LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
		ENVIRONMENT "${FST_TEST_ENV};FST_NRF91SIM=$<TARGET_FILE:fleetstation-nrf91sim>"
		ENVIRONMENT_MODIFICATION "ASAN_OPTIONS=string_append::verify_asan_link_order=0")
endif()
