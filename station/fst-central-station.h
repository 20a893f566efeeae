/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-central.h"
#include "fst-profile.h"
#include "fst-station.h"

G_BEGIN_DECLS

/**
 * FstCentralOffline:
 * @FST_CENTRAL_OFFLINE_REFUSE: without the central registry, issue nothing
 * @FST_CENTRAL_OFFLINE_PROCEED: issue on the station's own records; a
 *   conflict found when the records reach the registry is flagged there
 *
 * What a profile does when a station configured for a central registry
 * cannot reach it (`[profile] offline`).
 */
typedef enum {
	FST_CENTRAL_OFFLINE_REFUSE,
	FST_CENTRAL_OFFLINE_PROCEED,
} FstCentralOffline;

/**
 * FstCentralSettings:
 * @conninfo: (nullable): the libpq connection string or service name; %NULL
 *   when the station works alone
 * @batch_events: events per central transaction of the sync
 * @interval_ms: how often the sync worker looks for new records when idle
 * @drain_ms: how long the end of a job waits for the sync to ship what is
 *   left (the records stay in the journal either way)
 *
 * The `[central]` group of `WORKSPACE/station.conf`.
 */
typedef struct {
	gchar *conninfo;
	guint batch_events;
	guint interval_ms;
	guint drain_ms;
} FstCentralSettings;

FstCentralSettings *fst_central_settings_load(const gchar *workspace, GError **error);
void fst_central_settings_free(FstCentralSettings *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralSettings, fst_central_settings_free)
gboolean
fst_central_settings_save_conninfo(const gchar *workspace, const gchar *conninfo, GError **error);

gchar *fst_central_station_read_name(const gchar *workspace, GError **error);
FstCentral *fst_central_station_connect(const gchar *workspace, GError **error);

FstCentralOffline fst_central_profile_get_offline(const FstProfile *profile);

void fst_central_station_warm_up(FstStation *station);

/* the pipeline's calls: before issuing, and when the attempt ended */
gboolean fst_central_station_reserve(FstStation *station,
                                     const FstProfile *profile,
                                     const gchar *uid,
                                     GError **error);
void fst_central_station_release(FstStation *station, const gchar *uid, gboolean provisioned);
gboolean fst_central_station_check_key(
    FstStation *station, const gchar *uid, gconstpointer spki, gsize spki_len, GError **error);
gboolean fst_central_station_recognise(FstStation *station,
                                       const FstProfile *profile,
                                       const gchar *uid,
                                       gboolean *refused,
                                       gint *foreign_slot,
                                       GError **error);

/* the sync worker */

typedef struct _FstCentralWorker FstCentralWorker;

FstCentralWorker *fst_central_worker_start(FstStation *station, GError **error);
void fst_central_worker_kick(FstCentralWorker *self);
gboolean fst_central_worker_stop(FstCentralWorker *self, guint drain_ms);
void fst_central_worker_free(FstCentralWorker *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstCentralWorker, fst_central_worker_free)

G_END_DECLS
