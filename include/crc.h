/* Small bitwise CRCs for framed protocols whose records are short (EcoFlow's
 * are at most ECOFLOW_RECORD_MAX bytes), so a table buys nothing worth its
 * cache lines.  Each takes the running value, so a record can be checked in
 * pieces; start with 0 for both.  (The spool's CRC-32C stays in spool.c: it
 * is sized for megabytes and table-driven.) */
#ifndef POWERD_CRC_H
#define POWERD_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-8/SMBUS: poly 0x07, init 0, no reflection, no final XOR.
 * Check value ("123456789"): 0xF4. */
uint8_t crc_8_smbus(uint8_t crc, const void *data, size_t len);
/* CRC-16/ARC: poly 0x8005 reflected (0xA001), init 0, no final XOR.
 * Check value ("123456789"): 0xBB3D. */
uint16_t crc_16_arc(uint16_t crc, const void *data, size_t len);
/* CRC-16/MODBUS: poly 0x8005 reflected (0xA001), init 0xFFFF, no final XOR,
 * over a whole buffer (the EG4 dongle's TranslatedData, PROTOCOLS.md 1.4).
 * Check values: "123456789" 0x4B37; 01 03 00 00 00 0A 0xCDC5. */
uint16_t crc_16_modbus(const uint8_t *p, size_t n);

#endif
