/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: batch manifests, CSV and JSON (fst_batch_parse()); the first
 * non-blank byte chooses the format, so one corpus holds both.
 */
#include <stdint.h>

#include "fst-batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstBatch) batch = fst_batch_parse("fuzz.csv", (const gchar *)data, size, &error);

	/* either a manifest with rows, each with a device or a port, or an error */
	g_assert_true((batch == NULL) != (error == NULL));
	for (guint i = 0; batch != NULL && i < batch->rows->len; i++) {
		FstBatchRow *row = g_ptr_array_index(batch->rows, i);
		g_assert_true(row->device != NULL || row->port != NULL);
	}
	return 0;
}
