/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dialect registry: a dialect name ("fsp", "nrf91") maps to
 * the #FstDevice subclass that speaks it and the transport kinds it runs on;
 * a transport kind maps to the function that makes its transport for a port.
 * The station makes every device through here (fst_dialect_new_device(), or
 * fst_device_new_for_port() in station/fst-ports.c, which first picks the
 * dialect for the port), so a new dialect is one registration, not a change
 * to the gang or the pipeline.
 *
 * The built-in entries ("fsp" and "nrf91" on serial ports) are registered on first use;
 * tests and plugins may register more, from any thread.
 */
#define G_LOG_DOMAIN "FstDialect"

#include "fst-dialect.h"

#include <string.h>

#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-nrf91-device.h"
#include "fst-serial-transport.h"
#include "fst-usb-transport.h"

typedef struct {
	gchar *name; /* (owned) */
	GType device_type;
	FstTransportKind kinds;
} FstDialect;

static GMutex fst_dialect_mutex;
static GPtrArray *fst_dialects = NULL; /* (element-type FstDialect) (owned) */
static FstTransportNewFunc fst_transport_kinds[2] = {NULL};

static void
fst_dialect_free(FstDialect *dialect)
{
	g_free(dialect->name);
	g_free(dialect);
}

static FstTransport *
fst_dialect_serial_new(const gchar *port, guint baud_rate, GError **error)
{
	return fst_serial_transport_new(port, baud_rate);
}

static guint
fst_transport_kind_index(FstTransportKind kind)
{
	return kind == FST_TRANSPORT_KIND_USB ? 1 : 0;
}

/* with the mutex held */
static FstDialect *
fst_dialect_find_locked(const gchar *name)
{
	for (guint i = 0; i < fst_dialects->len; i++) {
		FstDialect *dialect = g_ptr_array_index(fst_dialects, i);
		if (g_strcmp0(dialect->name, name) == 0)
			return dialect;
	}
	return NULL;
}

/* with the mutex held: the built-in entries, once */
static void
fst_dialect_ensure_locked(void)
{
	FstDialect *fsp;
	FstDialect *nrf91;

	if (fst_dialects != NULL)
		return;
	fst_dialects = g_ptr_array_new_with_free_func((GDestroyNotify)fst_dialect_free);
	fsp = g_new0(FstDialect, 1);
	fsp->name = g_strdup(FST_DIALECT_DEFAULT);
	fsp->device_type = FST_TYPE_FSP_DEVICE;
	fsp->kinds = FST_TRANSPORT_KIND_SERIAL | FST_TRANSPORT_KIND_USB;
	g_ptr_array_add(fst_dialects, fsp);
	nrf91 = g_new0(FstDialect, 1);
	nrf91->name = g_strdup(FST_NRF91_DIALECT);
	nrf91->device_type = FST_TYPE_NRF91_DEVICE;
	nrf91->kinds = FST_TRANSPORT_KIND_SERIAL;
	g_ptr_array_add(fst_dialects, nrf91);
	fst_transport_kinds[fst_transport_kind_index(FST_TRANSPORT_KIND_SERIAL)] =
	    fst_dialect_serial_new;
	fst_transport_kinds[fst_transport_kind_index(FST_TRANSPORT_KIND_USB)] =
	    fst_usb_transport_new_for_port;
}

/**
 * fst_dialect_register:
 * @name: the dialect name, as profiles, `known-devices.conf` and `--dialect`
 *   spell it: lower case, digits and `-`
 * @device_type: an #FstDevice subclass; it is made with the properties
 *   `transport` and `dialect` (@name)
 * @kinds: the transport kinds it runs on
 * @error: (nullable): return location
 *
 * Adds a dialect to the registry.
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_CONFIG when the name is taken or
 * malformed, or the type is no #FstDevice
 */
gboolean
fst_dialect_register(const gchar *name, GType device_type, FstTransportKind kinds, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_dialect_mutex);
	FstDialect *dialect;

	g_return_val_if_fail(name != NULL, FALSE);
	fst_dialect_ensure_locked();
	if (name[0] == '\0' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(name)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "dialect name '%s' may hold only lower-case letters, digits and '-'",
		            name);
		return FALSE;
	}
	if (!g_type_is_a(device_type, FST_TYPE_DEVICE) || G_TYPE_IS_ABSTRACT(device_type) ||
	    kinds == FST_TRANSPORT_KIND_NONE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "dialect %s needs a concrete FstDevice type and a transport kind",
		            name);
		return FALSE;
	}
	if (fst_dialect_find_locked(name) != NULL) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_CONFIG, "dialect %s is registered already", name);
		return FALSE;
	}
	dialect = g_new0(FstDialect, 1);
	dialect->name = g_strdup(name);
	dialect->device_type = device_type;
	dialect->kinds = kinds;
	g_ptr_array_add(fst_dialects, dialect);
	return TRUE;
}

/**
 * fst_dialect_unregister:
 * @name: a dialect name
 *
 * Removes a dialect (tests register one for a while); the built-in
 * dialect stays.
 */
void
fst_dialect_unregister(const gchar *name)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_dialect_mutex);
	FstDialect *dialect;

	fst_dialect_ensure_locked();
	/* the built-in dialects stay */
	if (g_strcmp0(name, FST_DIALECT_DEFAULT) == 0 || g_strcmp0(name, FST_NRF91_DIALECT) == 0)
		return;
	dialect = fst_dialect_find_locked(name);
	if (dialect != NULL)
		g_ptr_array_remove(fst_dialects, dialect);
}

/**
 * fst_dialect_lookup:
 * @name: a dialect name
 * @device_type: (out) (optional): its #FstDevice subclass
 * @kinds: (out) (optional): the transport kinds it runs on
 *
 * Returns: %TRUE when @name is registered
 */
gboolean
fst_dialect_lookup(const gchar *name, GType *device_type, FstTransportKind *kinds)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_dialect_mutex);
	FstDialect *dialect;

	fst_dialect_ensure_locked();
	dialect = fst_dialect_find_locked(name);
	if (dialect == NULL)
		return FALSE;
	if (device_type != NULL)
		*device_type = dialect->device_type;
	if (kinds != NULL)
		*kinds = dialect->kinds;
	return TRUE;
}

/**
 * fst_dialect_list:
 *
 * Returns: (transfer full): the registered dialect names, in the order they
 * were registered
 */
gchar **
fst_dialect_list(void)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_dialect_mutex);
	g_autoptr(GStrvBuilder) names = g_strv_builder_new();

	fst_dialect_ensure_locked();
	for (guint i = 0; i < fst_dialects->len; i++) {
		FstDialect *dialect = g_ptr_array_index(fst_dialects, i);
		g_strv_builder_add(names, dialect->name);
	}
	return g_strv_builder_end(names);
}

/**
 * fst_transport_kind_register:
 * @kind: a transport kind
 * @func: (nullable): makes its transports; %NULL removes it
 *
 * Sets how transports of @kind are made (the serial kind is built in).
 */
void
fst_transport_kind_register(FstTransportKind kind, FstTransportNewFunc func)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fst_dialect_mutex);

	g_return_if_fail(kind == FST_TRANSPORT_KIND_SERIAL || kind == FST_TRANSPORT_KIND_USB);
	fst_dialect_ensure_locked();
	fst_transport_kinds[fst_transport_kind_index(kind)] = func;
}

/**
 * fst_transport_kind_for_port:
 * @port: a port name
 *
 * Returns: %FST_TRANSPORT_KIND_USB for `usb:...` names, else serial
 */
FstTransportKind
fst_transport_kind_for_port(const gchar *port)
{
	return g_str_has_prefix(port, "usb:") ? FST_TRANSPORT_KIND_USB : FST_TRANSPORT_KIND_SERIAL;
}

/**
 * fst_transport_kind_to_string:
 * @kind: a transport kind
 *
 * Returns: its name, as `fleetstation ports` shows it
 */
const gchar *
fst_transport_kind_to_string(FstTransportKind kind)
{
	switch (kind) {
	case FST_TRANSPORT_KIND_SERIAL:
		return "serial";
	case FST_TRANSPORT_KIND_USB:
		return "usb";
	case FST_TRANSPORT_KIND_NONE:
	default:
		return "none";
	}
}

/**
 * fst_dialect_new_device:
 * @name: a registered dialect name
 * @port: the port: a tty path, or `usb:BBB-AAA`
 * @baud_rate: the line rate
 * @error: (nullable): return location
 *
 * Makes the transport the port needs and the dialect's device on it. Nothing
 * is opened or sent yet.
 *
 * Returns: (transfer full) (nullable): the device, or %NULL with
 * %FST_ERROR_CONFIG for an unknown dialect and %FST_ERROR_NOT_SUPPORTED for a
 * dialect that does not run on this kind of port
 */
FstDevice *
fst_dialect_new_device(const gchar *name, const gchar *port, guint baud_rate, GError **error)
{
	FstTransportKind kind = fst_transport_kind_for_port(port);
	FstTransportNewFunc func;
	GType device_type = G_TYPE_INVALID;
	FstTransportKind kinds = FST_TRANSPORT_KIND_NONE;
	g_autoptr(FstTransport) transport = NULL;

	if (!fst_dialect_lookup(name, &device_type, &kinds)) {
		g_auto(GStrv) names = fst_dialect_list();
		g_autofree gchar *known = g_strjoinv(", ", names);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "%s: no dialect named '%s' in this build (it knows %s)",
		            port,
		            name,
		            known);
		return NULL;
	}
	g_mutex_lock(&fst_dialect_mutex);
	func = fst_transport_kinds[fst_transport_kind_index(kind)];
	g_mutex_unlock(&fst_dialect_mutex);
	if ((kinds & kind) == 0 || func == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "%s: dialect %s does not run on a %s port in this build",
		            port,
		            name,
		            fst_transport_kind_to_string(kind));
		return NULL;
	}
	transport = func(port, baud_rate, error);
	if (transport == NULL)
		return NULL;
	return g_object_new(device_type, "transport", transport, "dialect", name, NULL);
}
