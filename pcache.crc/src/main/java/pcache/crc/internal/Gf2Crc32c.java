package pcache.crc.internal;

/**
 * Arithmetic on CRC-32C registers as polynomials over GF(2) modulo the Castagnoli polynomial, in
 * the reflected bit order the register uses (bit 31 of an {@code int} is the coefficient of
 * x<sup>0</sup>, bit 0 that of x<sup>31</sup>).
 *
 * <p>Running a reflected CRC register without final inversion over {@code n} zero bytes
 * multiplies the register by x<sup>8n</sup> modulo P. That is what lets a CRC with any seed be
 * derived from {@link java.util.zip.CRC32C}: the two registers differ by the seed difference
 * carried through the data length: crc(s, d) = crc(0, d) xor (s multiplied by x<sup>8n</sup>).
 */
final class Gf2Crc32c {

    /** The reflected Castagnoli polynomial. */
    static final int POLY = 0x82F63B78;

    /** x<sup>0</sup> = 1 in reflected order. */
    static final int ONE = 0x80000000;

    /** x<sup>8</sup>, the operator of one zero byte: bit 8 counted from the top. */
    static final int X8 = ONE >>> 8;

    private Gf2Crc32c() {
    }

    /** a·b mod P. */
    static int multiply(int a, int b) {
        int product = 0;
        // walk a's coefficients from x^0 upwards while b runs through b·x^i mod P
        for (int m = ONE; a != 0; m >>>= 1) {
            if ((a & m) != 0) {
                product ^= b;
                a ^= m;
            }
            b = (b >>> 1) ^ (POLY & -(b & 1));
        }
        return product;
    }

    /** x<sup>8n</sup> mod P for {@code n ≥ 0} bytes, by repeated squaring. */
    static int shiftOperator(long n) {
        int result = ONE;
        int square = X8;
        while (n != 0) {
            if ((n & 1) != 0) {
                result = multiply(result, square);
            }
            square = multiply(square, square);
            n >>>= 1;
        }
        return result;
    }
}
