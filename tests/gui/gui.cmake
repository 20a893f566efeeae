# SPDX-License-Identifier: Apache-2.0
# fleetstation-gui: the real window under Xvfb driven through AT-SPI (label
# gui), skipped (77) when Xvfb, D-Bus or pyatspi are missing; and the failure
# wording as plain unit code. Screenshots go to tests/gui/screenshots/ of the
# build tree, for a person to look at.
if(TARGET fleetstation-gui)
	add_executable(fst-gui-failure-test ${CMAKE_CURRENT_LIST_DIR}/fst-gui-failure-test.c)
	target_link_libraries(fst-gui-failure-test PRIVATE fstgui)
	add_test(NAME fst-gui-failure-test COMMAND fst-gui-failure-test --tap)
	set_tests_properties(fst-gui-failure-test PROPERTIES LABELS "gui;unit" ENVIRONMENT "${FST_TEST_ENV}")

	foreach(mode harness line hotplug jig ca de central bench warnings stopped)
		add_test(NAME fst-gui-${mode}-test COMMAND ${CMAKE_CURRENT_LIST_DIR}/fst-gui-test.sh ${mode})
		set_tests_properties(fst-gui-${mode}-test PROPERTIES
			LABELS gui
			SKIP_RETURN_CODE 77
			TIMEOUT 300
			ENVIRONMENT "${FST_TEST_ENV};FST_GUI=$<TARGET_FILE:fleetstation-gui>;FST_GUI_SHOTS=${CMAKE_CURRENT_BINARY_DIR}/gui/screenshots;FST_GUI_LOCALEDIR=${FST_GUI_LOCALEDIR}")
	endforeach()
	# the benchmark wants the machine to itself
	set_tests_properties(fst-gui-bench-test PROPERTIES RUN_SERIAL TRUE)
endif()
