/*
 * A gang: several ports provisioned at once, one worker thread per port. The
 * station (CA, trust catalogue, database) is shared; the CA and the database
 * are thread-safe, and a device's I/O never waits for another port's.
 */

#define G_LOG_DOMAIN "FstGang"

#include "fst-gang.h"

#include "fst-fsp-device.h"
#include "fst-serial-transport.h"

typedef struct {
	FstStation *station;	   /* (unowned) */
	const FstProfile *profile; /* (unowned) */
	gchar *port;		   /* (owned) */
	guint baud_rate;
	FstProgressFunc progress;
	gpointer user_data;
	GCancellable *cancellable; /* (unowned) (nullable) */
	FstProvisionResult *result; /* (owned) */
} FstGangWorker;

static gpointer
fst_gang_worker_run(gpointer data)
{
	FstGangWorker *worker = data;
	g_autoptr(FstTransport) transport = fst_serial_transport_new(worker->port, worker->baud_rate);
	g_autoptr(FstDevice) device = fst_fsp_device_new(transport);

	worker->result = fst_pipeline_provision(worker->station,
						worker->profile,
						device,
						worker->progress,
						worker->user_data,
						worker->cancellable);
	return NULL;
}

/**
 * fst_gang_provision:
 * @station: the station
 * @profile: the profile for every port
 * @ports: (array zero-terminated=1): serial port paths
 * @baud_rate: line rate for every port
 * @progress: (nullable): called from the worker threads, concurrently
 * @user_data: data for @progress
 * @cancellable: (nullable): stops every worker
 *
 * Provisions the device on each port, all ports at once, and waits for all.
 *
 * Returns: (transfer container) (element-type FstProvisionResult): one result
 * per port, in the order of @ports
 */
GPtrArray *
fst_gang_provision(FstStation *station,
		   const FstProfile *profile,
		   const gchar *const *ports,
		   guint baud_rate,
		   FstProgressFunc progress,
		   gpointer user_data,
		   GCancellable *cancellable)
{
	guint n = 0;
	g_autofree FstGangWorker *workers = NULL;
	g_autofree GThread **threads = NULL;
	GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);

	while (ports[n] != NULL)
		n++;
	workers = g_new0(FstGangWorker, n);
	threads = g_new0(GThread *, n);

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *name = g_strdup_printf("fst-port-%u", i);
		workers[i] = (FstGangWorker){
		    .station = station,
		    .profile = profile,
		    .port = g_strdup(ports[i]),
		    .baud_rate = baud_rate,
		    .progress = progress,
		    .user_data = user_data,
		    .cancellable = cancellable,
		};
		threads[i] = g_thread_new(name, fst_gang_worker_run, &workers[i]);
	}
	for (guint i = 0; i < n; i++) {
		g_thread_join(threads[i]);
		g_ptr_array_add(results, workers[i].result);
		g_free(workers[i].port);
	}
	return results;
}
