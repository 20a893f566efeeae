/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-device.h"

G_BEGIN_DECLS

/**
 * FstKnownDevices:
 *
 * The table of known USB ids and the dialect each speaks, loaded from
 * `templates/ports/known-devices.conf` (format in templates/ports/README.md).
 */
typedef struct _FstKnownDevices FstKnownDevices;

FstKnownDevices *fst_known_devices_load(const gchar *path, GError **error);
FstKnownDevices *fst_known_devices_load_default(GError **error);
const gchar *
fst_known_devices_lookup(FstKnownDevices *self, gint vid, gint pid, const gchar **description);
gboolean fst_known_devices_has_vendor(FstKnownDevices *self, gint vid);
gint fst_known_devices_lookup_interface(FstKnownDevices *self, gint vid, gint pid);
void fst_known_devices_free(FstKnownDevices *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstKnownDevices, fst_known_devices_free)

FstDevice *fst_device_new_for_port(FstKnownDevices *known,
                                   const gchar *port,
                                   const gchar *dialect,
                                   guint baud_rate,
                                   GError **error);

typedef enum {
	FST_PORT_KIND_SERIAL, /* a tty the station opens through libserialport */
	FST_PORT_KIND_USB,    /* a USB device of a known vendor, seen through libusb */
} FstPortKind;

/**
 * FstPortInfo:
 * @kind: serial port or USB device
 * @name: the port path (`/dev/ttyUSB0`) or `usb:BUS-ADDR`
 * @transport: `usb`, `native`, `bluetooth` or `pty`
 * @vid: USB vendor id, or -1
 * @pid: USB product id, or -1
 * @serial: (nullable): USB serial number
 * @description: (nullable): what the port says it is, or the table's text
 * @dialect: (nullable): the dialect from the known-devices table, %NULL when unknown
 * @busy: another program holds the port
 * @busy_reason: (nullable): who holds it, when @busy
 * @usb_path: (nullable): the physical USB port: bus and port chain, `1-3.2`
 * @lane: (nullable): the jig lane bound to this port (fst_lanes_apply())
 * @denied: (nullable): why this user cannot open the port (permission
 *   denied, and the group or udev rule that would give it); %NULL when it can
 */
typedef struct {
	FstPortKind kind;
	gchar *name;
	gchar *transport;
	gint vid;
	gint pid;
	gchar *serial;
	gchar *description;
	gchar *dialect;
	gboolean busy;
	gchar *busy_reason;
	gchar *usb_path;
	gchar *lane;
	gchar *denied;
} FstPortInfo;

void fst_port_info_free(FstPortInfo *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstPortInfo, fst_port_info_free)

GPtrArray *fst_ports_list_serial(FstKnownDevices *known, GError **error);
void fst_ports_check_busy(GPtrArray *ports);
GPtrArray *fst_ports_list_usb(FstKnownDevices *known, GError **error);
gboolean fst_port_is_busy(const gchar *path, gchar **reason);

/**
 * FstLanes:
 *
 * The jig's lanes: a lane name bound to a physical place, a USB port path
 * (`1-3.2`: bus 1, hub port 3, its port 2) or a USB-serial adapter's serial
 * number, from the `[lanes]` group of WORKSPACE/station.conf, so that
 * socket 5 is lane 5 whatever ttyUSB number the kernel gives it.
 */
typedef struct _FstLanes FstLanes;

/* a port named by its jig lane: `lane:5` */
#define FST_LANES_PORT_PREFIX "lane:"

FstLanes *fst_lanes_load(const gchar *workspace, GError **error);
guint fst_lanes_get_size(FstLanes *self);
const gchar *fst_lanes_match(FstLanes *self, const FstPortInfo *port);
void fst_lanes_apply(FstLanes *self, GPtrArray *ports);
GHashTable *fst_lanes_by_port(const gchar *workspace, GError **error);
gchar *fst_lanes_resolve(FstLanes *self, GPtrArray *ports, const gchar *lane, GError **error);
gchar **fst_lanes_resolve_ports(const gchar *workspace, const gchar *const *ports, GError **error);
gboolean fst_lanes_bind(const gchar *workspace, const gchar *binding, GError **error);
void fst_lanes_free(FstLanes *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstLanes, fst_lanes_free)

/**
 * FstPortLock:
 *
 * An advisory exclusive lock on a serial port, held while the station works
 * on it, so that two station processes never drive one device.
 */
typedef struct _FstPortLock FstPortLock;

FstPortLock *fst_port_lock(const gchar *path, GError **error);
void fst_port_unlock(FstPortLock *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstPortLock, fst_port_unlock)

G_END_DECLS
