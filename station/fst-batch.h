/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-gang.h"

G_BEGIN_DECLS

/**
 * FstBatchStatus:
 * @FST_BATCH_PENDING: not run yet
 * @FST_BATCH_SKIPPED: provisioned already (on an earlier run, or before
 *   the manifest): left alone
 * @FST_BATCH_PROVISIONED: provisioned now
 * @FST_BATCH_FAILED: tried now and failed (see the row's error)
 * @FST_BATCH_MISSING: its device or port was not found
 */
typedef enum {
	FST_BATCH_PENDING,
	FST_BATCH_SKIPPED,
	FST_BATCH_PROVISIONED,
	FST_BATCH_FAILED,
	FST_BATCH_MISSING,
} FstBatchStatus;

const gchar *fst_batch_status_to_string(FstBatchStatus status);

/**
 * FstBatchRow:
 * @line: the manifest line (CSV) or row index + 1 (JSON)
 * @device: (nullable): the device id expected
 * @port: (nullable): the port the device is on
 * @profile: (nullable): the row's profile, else the manifest's or the caller's
 * @lot: (nullable): the row's lot, else the manifest's or the caller's
 * @status: what happened
 * @uid: (nullable): the device id met on the port
 * @serial_hex: (nullable): its certificate
 * @error: (nullable): why it failed or is missing
 */
typedef struct {
	guint line;
	gchar *device;
	gchar *port;
	gchar *profile;
	gchar *lot;
	FstBatchStatus status;
	gchar *uid;
	gchar *serial_hex;
	GError *error;
} FstBatchRow;

/**
 * FstBatch:
 * @path: the manifest file
 * @rows: (element-type FstBatchRow): its rows, in order
 */
typedef struct {
	gchar *path;
	GPtrArray *rows;
} FstBatch;

FstBatch *fst_batch_load(const gchar *path, GError **error);
FstBatch *fst_batch_parse(const gchar *path, const gchar *data, gsize len, GError **error);
void fst_batch_free(FstBatch *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstBatch, fst_batch_free)

/**
 * FstBatchOptions:
 * @profile: (nullable): profile for rows that name none
 * @lot: (nullable): lot for rows that name none
 * @ports: (nullable) (array zero-terminated=1): where to look for the devices
 *   of rows that give a device id and no port
 * @baud_rate: the line rate
 * @stop: (nullable): see #FstGangOptions
 * @abort: (nullable): see #FstGangOptions
 * @on_result: (nullable): each device's result, once its row has its status,
 *   from the thread running the batch
 * @on_result_data: data for @on_result
 */
typedef struct {
	const gchar *profile;
	const gchar *lot;
	const gchar *const *ports;
	guint baud_rate;
	GCancellable *stop;
	GCancellable *abort;
	FstGangResultFunc on_result;
	gpointer on_result_data;
} FstBatchOptions;

gboolean fst_batch_run(FstBatch *self,
                       FstStation *station,
                       const FstBatchOptions *options,
                       FstProgressFunc progress,
                       gpointer user_data,
                       GError **error);

G_END_DECLS
