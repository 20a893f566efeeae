/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "fst-transport.h"

G_BEGIN_DECLS

#define FST_TYPE_USB_TRANSPORT (fst_usb_transport_get_type())
G_DECLARE_FINAL_TYPE(FstUsbTransport, fst_usb_transport, FST, USB_TRANSPORT, FstTransport)

/* a device's own interface, chosen when no interface number is given */
#define FST_USB_TRANSPORT_INTERFACE_AUTO (-1)

FstTransport *fst_usb_transport_new(const gchar *port, gint interface_number);
FstTransport *fst_usb_transport_new_for_port(const gchar *port, guint baud_rate, GError **error);
void fst_usb_transport_set_interface(FstUsbTransport *self, gint interface_number);
gboolean fst_usb_transport_parse_port(const gchar *port, guint8 *bus, guint8 *address);

G_END_DECLS
