# SPDX-License-Identifier: Apache-2.0
# ports and workspace defaults: umockdev emulates sysfs, ttys and usbfs,
# so the test runs under umockdev-wrapper (it preloads the emulation)
pkg_check_modules(UMOCKDEV IMPORTED_TARGET umockdev-1.0>=0.17)
find_program(UMOCKDEV_WRAPPER umockdev-wrapper)
if(UMOCKDEV_FOUND AND UMOCKDEV_WRAPPER)
	add_executable(fst-ports-test ${CMAKE_CURRENT_LIST_DIR}/fst-ports-test.c)
	target_link_libraries(fst-ports-test PRIVATE fststation PkgConfig::UMOCKDEV)
	# provisions a simulated device through an emulated CP2102
	add_dependencies(fst-ports-test fleetstation-devsim)
	add_test(NAME fst-ports-test COMMAND ${UMOCKDEV_WRAPPER} $<TARGET_FILE:fst-ports-test> --tap)
	# umockdev-wrapper preloads its library ahead of ASan's runtime: the
	# sanitizer build is told to accept that, on top of the options the
	# caller set (the sanitizer stage's leak checks)
	set_tests_properties(fst-ports-test PROPERTIES LABELS unit TIMEOUT 120 SKIP_RETURN_CODE 77
		ENVIRONMENT "${FST_TEST_ENV}"
		ENVIRONMENT_MODIFICATION "ASAN_OPTIONS=string_append::verify_asan_link_order=0")
else()
	fst_add_missing_test(fst-ports-test unit
		"umockdev is missing: apt-get install libumockdev-dev umockdev and configure again")
endif()
