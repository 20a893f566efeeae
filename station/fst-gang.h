/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-pipeline.h"

G_BEGIN_DECLS

/**
 * FstGangAcceptFunc:
 * @uid: the id the device on @port gave
 * @port: the port
 * @user_data: data given with the function
 * @error: return location: set it to refuse the device, with the reason
 *
 * Decides, after a device identified and before anything is issued, whether
 * the gang provisions it. Called from the port's worker thread.
 *
 * Returns: %TRUE to provision; %FALSE with @error to refuse; %FALSE without
 * @error to skip the device silently (e.g. done on an earlier run)
 */
typedef gboolean (*FstGangAcceptFunc)(const gchar *uid,
                                      const gchar *port,
                                      gpointer user_data,
                                      GError **error);

/**
 * FstGangResultFunc:
 * @result: one device's result
 * @user_data: data given with the function
 *
 * Called as each device ends, from the thread that ran it.
 */
typedef void (*FstGangResultFunc)(const FstProvisionResult *result, gpointer user_data);

/**
 * FstGangOptions:
 * @baud_rate: line rate for every port
 * @count: devices to provision in all, 0 for one per port; with a count each
 *   port provisions the next device put on it (a new device id) until the
 *   count is reached or @stop is cancelled
 * @accept: (nullable): asked before each device is provisioned (needs a first
 *   identification; without it the pipeline runs at once)
 * @accept_data: data for @accept
 * @stop: (nullable): when cancelled, no new device is started and the devices
 *   in flight finish normally (first Ctrl-C)
 * @abort: (nullable): when cancelled, the devices in flight are stopped too;
 *   the pipeline records them failed, never done (second Ctrl-C)
 * @trust_only: rewrite only the root CAs of provisioned devices
 *   (fst_pipeline_update_trust()), whatever the profile's job
 * @on_result: (nullable): each device's result as it ends, from the worker
 *   thread; when set, the gang keeps no results (a long run does not grow)
 *   and fst_gang_wait() and fst_gang_run() return empty arrays
 * @on_result_data: data for @on_result
 * @dialect: (nullable): the dialect of every port (`--dialect`), copied; %NULL
 *   for the one the known-devices table gives each port's USB id, else fsp
 */
typedef struct {
	guint baud_rate;
	guint count;
	FstGangAcceptFunc accept;
	gpointer accept_data;
	GCancellable *stop;
	GCancellable *abort;
	gboolean trust_only;
	FstGangResultFunc on_result;
	gpointer on_result_data;
	const gchar *dialect;
} FstGangOptions;

typedef struct _FstGang FstGang;

FstGang *fst_gang_new(FstStation *station,
                      const FstProfile *profile,
                      const FstGangOptions *options,
                      FstProgressFunc progress,
                      gpointer user_data);
void fst_gang_add_port(FstGang *self, const gchar *port);
gboolean fst_gang_port_is_running(FstGang *self, const gchar *port);
GPtrArray *fst_gang_take_results(FstGang *self);
GPtrArray *fst_gang_wait(FstGang *self);
void fst_gang_free(FstGang *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstGang, fst_gang_free)

GPtrArray *fst_gang_run(FstStation *station,
                        const FstProfile *profile,
                        const gchar *const *ports,
                        const FstGangOptions *options,
                        FstProgressFunc progress,
                        gpointer user_data);
GPtrArray *fst_gang_provision(FstStation *station,
                              const FstProfile *profile,
                              const gchar *const *ports,
                              guint baud_rate,
                              FstProgressFunc progress,
                              gpointer user_data,
                              GCancellable *cancellable);

G_END_DECLS
