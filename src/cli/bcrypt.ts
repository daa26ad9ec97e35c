/**
 * bcrypt verification without a dependency: Node's crypto has neither bcrypt nor (under
 * OpenSSL 3) Blowfish, so the cipher is written here from its specification (Schneier's
 * Blowfish; Provos and Mazières' "A Future-Adaptable Password Scheme" for EksBlowfish and the
 * `$2b$` encoding). Blowfish's initial P-array and S-boxes are the hexadecimal digits of the
 * fractional part of pi; they are computed once, at the first use, with Machin's formula.
 */

/** Words of pi's fractional part Blowfish starts from: 18 for P, 4 × 256 for S. */
const WORDS = 18 + 4 * 256;

let piWords: Uint32Array | undefined;

/** atan(1/x) in fixed point with `bits` fractional bits. */
function arctanInverse(x: bigint, bits: bigint): bigint {
  const x2 = x * x;
  let term = (1n << bits) / x;
  let sum = term;
  for (let k = 1n; term !== 0n; k++) {
    term /= x2;
    const part = term / (2n * k + 1n);
    sum = k % 2n === 1n ? sum - part : sum + part;
  }
  return sum;
}

/** The first 1,042 32-bit words of pi's fractional part (0x243f6a88, 0x85a308d3, ...). */
export function blowfishPiWords(): Uint32Array {
  if (piWords) return piWords;
  const guard = 64n;
  const bits = BigInt(WORDS * 32) + guard;
  const pi = 16n * arctanInverse(5n, bits) - 4n * arctanInverse(239n, bits);
  let frac = (pi - (3n << bits)) >> guard;
  const out = new Uint32Array(WORDS);
  for (let i = WORDS - 1; i >= 0; i--) {
    out[i] = Number(frac & 0xffffffffn);
    frac >>= 32n;
  }
  piWords = out;
  return out;
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;

  constructor() {
    const words = blowfishPiWords();
    this.p = words.slice(0, 18);
    this.s = words.slice(18);
  }

  #f(x: number): number {
    const s = this.s;
    return (
      (((s[x >>> 24]! + s[256 + ((x >>> 16) & 255)]!) ^ s[512 + ((x >>> 8) & 255)]!) +
        s[768 + (x & 255)]!) >>>
      0
    );
  }

  /** Enciphers the pair in `lr` in place. */
  encipher(lr: Uint32Array, at: number): void {
    const p = this.p;
    let l = lr[at]!;
    let r = lr[at + 1]!;
    l ^= p[0]!;
    for (let i = 1; i <= 16; i += 2) {
      r ^= this.#f(l) ^ p[i]!;
      l ^= this.#f(r) ^ p[i + 1]!;
    }
    lr[at] = (r ^ p[17]!) >>> 0;
    lr[at + 1] = l >>> 0;
  }

  /** EksBlowfish's ExpandKey; `salt` may be absent (the plain Blowfish key schedule). */
  expand(key: Uint8Array, salt: Uint8Array | undefined): void {
    let k = 0;
    const keyWord = () => {
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | key[k]!) >>> 0;
        k = (k + 1) % key.length;
      }
      return w;
    };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i]! ^ keyWord()) >>> 0;
    let j = 0;
    const saltWord = () => {
      if (!salt) return 0;
      let w = 0;
      for (let i = 0; i < 4; i++) {
        w = ((w << 8) | salt[j]!) >>> 0;
        j = (j + 1) % salt.length;
      }
      return w;
    };
    const lr = new Uint32Array(2);
    for (let i = 0; i < 18; i += 2) {
      lr[0]! ^= saltWord();
      lr[1]! ^= saltWord();
      this.encipher(lr, 0);
      this.p[i] = lr[0]!;
      this.p[i + 1] = lr[1]!;
    }
    for (let i = 0; i < 1024; i += 2) {
      lr[0]! ^= saltWord();
      lr[1]! ^= saltWord();
      this.encipher(lr, 0);
      this.s[i] = lr[0]!;
      this.s[i + 1] = lr[1]!;
    }
  }
}

const BCRYPT64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function encode64(bytes: Uint8Array, length: number): string {
  let out = '';
  let i = 0;
  while (i < length) {
    let c1 = bytes[i++]!;
    out += BCRYPT64[c1 >> 2];
    c1 = (c1 & 3) << 4;
    if (i >= length) {
      out += BCRYPT64[c1];
      break;
    }
    let c2 = bytes[i++]!;
    out += BCRYPT64[c1 | (c2 >> 4)];
    c2 = (c2 & 15) << 2;
    if (i >= length) {
      out += BCRYPT64[c2];
      break;
    }
    const c3 = bytes[i++]!;
    out += BCRYPT64[c2 | (c3 >> 6)];
    out += BCRYPT64[c3 & 63];
  }
  return out;
}

function decode64(text: string, length: number): Uint8Array | undefined {
  const out = new Uint8Array(length);
  const v = (i: number) => BCRYPT64.indexOf(text[i] ?? '');
  let o = 0;
  let i = 0;
  while (o < length) {
    const c1 = v(i++);
    const c2 = v(i++);
    if (c1 < 0 || c2 < 0) return undefined;
    out[o++] = (c1 << 2) | ((c2 & 0x30) >> 4);
    if (o >= length) break;
    const c3 = v(i++);
    if (c3 < 0) return undefined;
    out[o++] = ((c2 & 15) << 4) | ((c3 & 0x3c) >> 2);
    if (o >= length) break;
    const c4 = v(i++);
    if (c4 < 0) return undefined;
    out[o++] = ((c3 & 3) << 6) | c4;
  }
  return out;
}

/** A `$2a$`, `$2b$` or `$2y$` hash read into its parts, or a reason it is not one. */
export function parseBcryptHash(
  text: string,
): { cost: number; salt: Uint8Array; saltText: string; prefix: string } | string {
  const m = /^\$(2[aby])\$(\d\d)\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/.exec(text);
  if (!m) return 'is not a bcrypt hash of the form $2b$NN$ followed by 53 characters';
  const cost = Number(m[2]);
  if (cost < 4 || cost > 31) return 'has a bcrypt cost outside 4 to 31';
  const salt = decode64(m[3]!, 16);
  if (!salt) return 'has a salt that is not bcrypt base64';
  return { cost, salt, saltText: m[3]!, prefix: m[1]! };
}

/**
 * The bcrypt hash (`$2b$`-style string with the given prefix) of `password`: its UTF-8 bytes
 * plus a terminating NUL, cut at 72 bytes, run through EksBlowfish with 2^cost rounds.
 */
export function bcryptHash(
  password: string,
  cost: number,
  saltText: string,
  prefix = '2b',
): string {
  const salt = decode64(saltText, 16);
  if (!salt || cost < 4 || cost > 31) throw new RangeError('bad bcrypt salt or cost');
  const raw = Buffer.from(password, 'utf8');
  const key = new Uint8Array(Math.min(72, raw.length + 1));
  key.set(raw.subarray(0, key.length));
  const bf = new Blowfish();
  bf.expand(key, salt);
  for (let i = 2 ** cost; i > 0; i--) {
    bf.expand(key, undefined);
    bf.expand(salt, undefined);
  }
  const text = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
  const words = new Uint32Array(6);
  for (let i = 0; i < 6; i++) words[i] = text.readUInt32BE(i * 4);
  for (let n = 0; n < 64; n++) for (let j = 0; j < 6; j += 2) bf.encipher(words, j);
  const bytes = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) bytes.writeUInt32BE(words[i]!, i * 4);
  return `$${prefix}$${String(cost).padStart(2, '0')}$${saltText}${encode64(bytes, 23)}`;
}
