package safetensors

import (
	"encoding/binary"
	"math"
)

// DType is a safetensors element type as spelled in the header ("F32", "BF16", ...).
// Any dtype string found in a file is kept; only F32, BF16 and F16 convert to float32.
type DType string

const (
	F32  DType = "F32"
	BF16 DType = "BF16"
	F16  DType = "F16"
)

// dtypeSizes holds the element size in bytes of every dtype whose byte length
// the reader checks against its shape. Other dtypes (sub-byte formats such as
// F4) are accepted without that check and never converted.
var dtypeSizes = map[DType]int64{
	"F64": 8, F32: 4, F16: 2, BF16: 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1,
	"U64": 8, "U32": 4, "U16": 2, "U8": 1,
	"BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}

// decoders turn little-endian element bytes into float32; len(src) is
// len(dst) times the dtype size.
var decoders = map[DType]func(dst []float32, src []byte){
	F32: func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	},
	BF16: func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = bf16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	},
	F16: func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = f16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	},
}

// encoders turn float32 into little-endian element bytes (the dtypes Write accepts).
var encoders = map[DType]func(dst []byte, src []float32){
	F32: func(dst []byte, src []float32) {
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	},
	BF16: func(dst []byte, src []float32) {
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], float32ToBF16(v))
		}
	},
}

// bf16ToFloat32 is exact: bfloat16 is the top half of a float32.
func bf16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// float32ToBF16 rounds to nearest, ties to even (as PyTorch does). NaN is
// handled first because rounding a NaN whose payload sits only in the low 16
// bits would truncate it to Inf; the quiet bit keeps it a NaN.
func float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// f16ToFloat32 converts IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa
// bits, bias 15) to float32 (bias 127); every half value is exact in float32.
func f16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf (mant 0) or NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	default: // zero or subnormal: mant × 2^-24, a normal float32 (or zero)
		v := float32(mant) * 0x1p-24
		if sign != 0 {
			v = -v
		}
		return v
	}
}
