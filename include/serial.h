/* Serial ports for the Modbus RTU source and modpoll: opened raw and
 * non-blocking at any baud rate, and the kernel's RS485 mode (the driver
 * drives the transceiver's direction pin around each transmission, as the
 * HATs with an auto-direction-less MAX485 need).  The caller reads and
 * writes the fd itself (the I/O loop, or poll(2) in a tool). */
#ifndef POWERD_SERIAL_H
#define POWERD_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct serial_params {
	uint32_t baud;
	char parity; /* 'N', 'E' or 'O' */
	uint8_t data_bits, stop_bits;
};

/* Whether the kernel can be asked for these settings: 0 or -EINVAL with
 * the reason in why (len bytes, may be 0). */
int serial_params_check(const struct serial_params *p, char *why, size_t len);

/* Open path raw (no echo, no line discipline, no flow control, the modem
 * lines ignored), O_NONBLOCK | O_NOCTTY | O_CLOEXEC, exclusive (TIOCEXCL:
 * a second program opening the port would take replies meant for this
 * one), at p's settings, its queues flushed.  Any baud rate the driver
 * takes (BOTHER), pseudo-terminals included.  0 with *fd set, or a
 * negative errno with the reason in why. */
int serial_open(const char *path, const struct serial_params *p, int *fd, char *why, size_t len);

/* The driver's RS485 mode: RTS asserted while sending when rts_on_send
 * (else the reverse polarity), with the delays in ms before and after the
 * transmission.  -ENOTTY (and a reason saying so) on a port or driver
 * without RS485 support, a pseudo-terminal for one. */
int serial_rs485(int fd, bool rts_on_send, uint32_t delay_before_ms, uint32_t delay_after_ms,
		 char *why, size_t len);

#endif
