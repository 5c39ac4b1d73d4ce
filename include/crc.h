/* Small bitwise CRCs for framed protocols whose records are short (EcoFlow's
 * are at most ECOFLOW_RECORD_MAX bytes), so a table buys nothing worth its
 * cache lines (a Modbus RTU frame is at most 256 bytes).  Each takes the
 * running value, so a record can be checked in pieces; start with 0, or
 * CRC_16_MODBUS_INIT for crc_16_modbus.  (The spool's CRC-32C stays in
 * spool.c: it is sized for megabytes and table-driven.) */
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
/* CRC-16/MODBUS: CRC-16/ARC's polynomial and reflection, init 0xFFFF.
 * Check value ("123456789"): 0x4B37.  Sent low byte first. */
#define CRC_16_MODBUS_INIT 0xFFFF
uint16_t crc_16_modbus(uint16_t crc, const void *data, size_t len);

#endif
