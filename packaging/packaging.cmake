# SPDX-License-Identifier: Apache-2.0
# What `cmake --install` and `cpack -G DEB` put on a station: the programs (their
# own install rules), the templates, man pages, bash completion, the udev rules
# made from the known-devices table, and the systemd unit of headless watch mode.

find_package(Python3 REQUIRED COMPONENTS Interpreter)

# udev rules from templates/ports/known-devices.conf: one list of USB ids
set(FST_UDEV_RULES ${PROJECT_BINARY_DIR}/packaging/70-fleetstation.rules)
add_custom_command(OUTPUT ${FST_UDEV_RULES}
	COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/udev/fst-udev-rules.py
		${PROJECT_SOURCE_DIR}/templates/ports/known-devices.conf ${FST_UDEV_RULES}
	DEPENDS ${CMAKE_CURRENT_LIST_DIR}/udev/fst-udev-rules.py
		${PROJECT_SOURCE_DIR}/templates/ports/known-devices.conf
	COMMENT "udev rules from known-devices.conf")

# the package's change log, compressed as Debian installs it
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/packaging/changelog.gz
	COMMAND gzip -9n -c ${CMAKE_CURRENT_LIST_DIR}/debian/changelog > ${PROJECT_BINARY_DIR}/packaging/changelog.gz
	DEPENDS ${CMAKE_CURRENT_LIST_DIR}/debian/changelog)

# man pages, compressed as Debian installs them
set(FST_MAN_PAGES fleetstation.1 fleetstation-devsim.1 fleetstation-gui.1 fleetstation-nrf91sim.1)
set(FST_MAN_GZ)
foreach(page ${FST_MAN_PAGES})
	add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/packaging/${page}.gz
		COMMAND gzip -9n -c ${CMAKE_CURRENT_LIST_DIR}/${page} > ${PROJECT_BINARY_DIR}/packaging/${page}.gz
		DEPENDS ${CMAKE_CURRENT_LIST_DIR}/${page})
	list(APPEND FST_MAN_GZ ${PROJECT_BINARY_DIR}/packaging/${page}.gz)
endforeach()
add_custom_target(fst-packaging-files ALL
	DEPENDS ${FST_UDEV_RULES} ${FST_MAN_GZ} ${PROJECT_BINARY_DIR}/packaging/changelog.gz)

configure_file(${CMAKE_CURRENT_LIST_DIR}/systemd/fleetstation-watch.service.in
	${PROJECT_BINARY_DIR}/packaging/fleetstation-watch.service @ONLY)

install(FILES ${FST_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${FST_UDEV_RULES} DESTINATION lib/udev/rules.d)
install(FILES ${PROJECT_BINARY_DIR}/packaging/fleetstation-watch.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/completion/fleetstation.bash
	DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME fleetstation)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/debian/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.gz
	DESTINATION ${CMAKE_INSTALL_DOCDIR})

# the Debian package: cpack -G DEB in the build tree
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetstation)
set(CPACK_PACKAGE_VENDOR "fleetstation")
set(CPACK_PACKAGE_CONTACT "fleetstation maintainers <maintainers@fleetstation.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "factory provisioning station for IoT device identities")
set(CPACK_PACKAGE_DESCRIPTION "fleetstation gives every device on a production line its X.509 identity for
AWS IoT and other clouds: it talks to a gang of devices over serial ports and
USB, has each device make its key, signs its certificate with an issuing CA
(key file or PKCS#11 token), burns the certificate, CA chain and root CAs,
reads them back, registers the certificates with AWS IoT and records every
step in a tamper-evident SQLite journal for signed audit reports.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "udev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "softhsm2, libengine-pkcs11-openssl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
