/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the known-devices table (fst_known_devices_load()), through
 * the bounded reader and its USB id parsing; a table that loads is looked up.
 */
#include <stdint.h>

#include "fst-fuzz-file.h"
#include "fst-ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const gchar *path = fst_fuzz_file_write("known-devices.conf", data, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstKnownDevices) known = fst_known_devices_load(path, &error);

	if (known != NULL) {
		const gchar *description = NULL;
		(void)fst_known_devices_lookup(known, 0x10c4, 0xea60, &description);
		(void)fst_known_devices_has_vendor(known, 0x0403);
	}
	return 0;
}
