/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-gang.h"

G_BEGIN_DECLS

/**
 * FstWatchOptions:
 * @patterns: (nullable) (array zero-terminated=1): port paths to watch, with
 *   `*` and `?` allowed in the last component (e.g. `/dev/ttyUSB*`,
 *   `/run/fixtures/slot?`); %NULL watches the serial ports of known USB ids
 * @baud_rate: the line rate
 * @poll_ms: how often ports are scanned; USB hotplug events wake the scan early
 * @stop: (nullable): ends the watch; the devices in flight finish
 * @abort: (nullable): stops the devices in flight too
 */
typedef struct {
	const gchar *const *patterns;
	guint baud_rate;
	guint poll_ms;
	GCancellable *stop;
	GCancellable *abort;
} FstWatchOptions;

/* how often the ports are scanned when the options do not say */
#define FST_WATCH_DEFAULT_POLL_MS 250

/**
 * FstWatchResultFunc:
 * @result: one device's result
 * @user_data: data given with the function
 *
 * Called from the watching thread as each device ends.
 */
typedef void (*FstWatchResultFunc)(const FstProvisionResult *result, gpointer user_data);

gboolean fst_watch_run(FstStation *station,
                       const FstProfile *profile,
                       const FstWatchOptions *options,
                       FstProgressFunc progress,
                       FstWatchResultFunc on_result,
                       gpointer user_data,
                       GError **error);

G_END_DECLS
