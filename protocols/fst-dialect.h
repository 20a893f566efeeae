/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-device.h"

G_BEGIN_DECLS

/**
 * FstTransportKind:
 * @FST_TRANSPORT_KIND_SERIAL: a tty (UART, USB CDC-ACM or USB-serial adapter,
 *   pty), opened by #FstSerialTransport
 * @FST_TRANSPORT_KIND_USB: a USB device's own bulk endpoints (libusb), for
 *   ports named `usb:BBB-AAA`
 *
 * What carries a dialect's bytes. A dialect names the kinds it runs on.
 */
typedef enum {
	FST_TRANSPORT_KIND_NONE = 0,
	FST_TRANSPORT_KIND_SERIAL = 1 << 0,
	FST_TRANSPORT_KIND_USB = 1 << 1,
} FstTransportKind;

/**
 * FstTransportNewFunc:
 * @port: the port: a tty path, or `usb:BBB-AAA`
 * @baud_rate: the line rate (0 for a transport that has none)
 * @error: (nullable): return location
 *
 * Makes a transport of one kind for @port; it is opened by the caller.
 *
 * Returns: (transfer full) (nullable): the transport, or %NULL with @error
 */
typedef FstTransport *(*FstTransportNewFunc)(const gchar *port, guint baud_rate, GError **error);

/* the built-in dialect */
#define FST_DIALECT_DEFAULT "fsp"

gboolean
fst_dialect_register(const gchar *name, GType device_type, FstTransportKind kinds, GError **error);
void fst_dialect_unregister(const gchar *name);
gboolean fst_dialect_lookup(const gchar *name, GType *device_type, FstTransportKind *kinds);
gchar **fst_dialect_list(void);
void fst_transport_kind_register(FstTransportKind kind, FstTransportNewFunc func);
FstTransportKind fst_transport_kind_for_port(const gchar *port);
const gchar *fst_transport_kind_to_string(FstTransportKind kind);
FstDevice *
fst_dialect_new_device(const gchar *name, const gchar *port, guint baud_rate, GError **error);

G_END_DECLS
