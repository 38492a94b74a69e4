// Package mavftp holds the wire formats of MAVLink FTP that both ends of
// Burgut speak: the packet carried in FILE_TRANSFER_PROTOCOL's payload
// (https://mavlink.io/en/services/ftp.html) and ArduPilot's packed
// parameter file @PARAM/param.pck. The ground station's client
// (groundstation/session) and the simulator's server (simulator) both use
// it, so the two cannot drift apart in how they read the bytes.
//
// It is a leaf: it imports nothing of Burgut and only gomavlib's enums.
package mavftp

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// PayloadLen is the size of FILE_TRANSFER_PROTOCOL's payload field;
// HeaderLen bytes of it are the FTP header and the rest (DataMax) data.
const (
	PayloadLen = 251
	HeaderLen  = 12
	DataMax    = PayloadLen - HeaderLen // 239
)

// Opcode is an FTP request or reply opcode (MAV_FTP_OPCODE).
type Opcode uint8

// Opcodes, as numbered by the MAVLink FTP specification.
const (
	OpNone             Opcode = 0
	OpTerminateSession Opcode = 1
	OpResetSessions    Opcode = 2
	OpListDirectory    Opcode = 3
	OpOpenFileRO       Opcode = 4
	OpReadFile         Opcode = 5
	OpCreateFile       Opcode = 6
	OpWriteFile        Opcode = 7
	OpRemoveFile       Opcode = 8
	OpCreateDirectory  Opcode = 9
	OpRemoveDirectory  Opcode = 10
	OpOpenFileWO       Opcode = 11
	OpTruncateFile     Opcode = 12
	OpRename           Opcode = 13
	OpCalcFileCRC32    Opcode = 14
	OpBurstReadFile    Opcode = 15
	OpAck              Opcode = 128
	OpNak              Opcode = 129
)

var opNames = map[Opcode]string{
	OpNone: "None", OpTerminateSession: "TerminateSession", OpResetSessions: "ResetSessions",
	OpListDirectory: "ListDirectory", OpOpenFileRO: "OpenFileRO", OpReadFile: "ReadFile",
	OpCreateFile: "CreateFile", OpWriteFile: "WriteFile", OpRemoveFile: "RemoveFile",
	OpCreateDirectory: "CreateDirectory", OpRemoveDirectory: "RemoveDirectory",
	OpOpenFileWO: "OpenFileWO", OpTruncateFile: "TruncateFile", OpRename: "Rename",
	OpCalcFileCRC32: "CalcFileCRC32", OpBurstReadFile: "BurstReadFile", OpAck: "ACK", OpNak: "NAK",
}

func (o Opcode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("opcode(%d)", uint8(o))
}

// ErrorCode is the first data byte of a NAK (MAV_FTP_ERR).
type ErrorCode uint8

// NAK error codes.
const (
	ErrNone                ErrorCode = 0
	ErrFail                ErrorCode = 1
	ErrFailErrno           ErrorCode = 2 // the second data byte is the errno
	ErrInvalidDataSize     ErrorCode = 3
	ErrInvalidSession      ErrorCode = 4
	ErrNoSessionsAvailable ErrorCode = 5
	ErrEOF                 ErrorCode = 6
	ErrUnknownCommand      ErrorCode = 7
	ErrFileExists          ErrorCode = 8
	ErrFileProtected       ErrorCode = 9
	ErrFileNotFound        ErrorCode = 10
)

var errNames = map[ErrorCode]string{
	ErrNone: "none", ErrFail: "failed", ErrFailErrno: "failed with errno", ErrInvalidDataSize: "invalid data size",
	ErrInvalidSession: "invalid session", ErrNoSessionsAvailable: "no sessions available", ErrEOF: "end of file",
	ErrUnknownCommand: "unknown command", ErrFileExists: "file exists", ErrFileProtected: "file protected",
	ErrFileNotFound: "file not found",
}

func (e ErrorCode) String() string {
	if s, ok := errNames[e]; ok {
		return s
	}
	return fmt.Sprintf("error code %d", uint8(e))
}

// Packet is one FTP message: the 12-byte header and Size bytes of data.
type Packet struct {
	Seq           uint16
	Session       uint8
	Opcode        Opcode
	ReqOpcode     Opcode // in replies: the opcode answered
	BurstComplete bool
	Offset        uint32
	// Size is the header's size field: the length of Data in packets that
	// carry data, the number of bytes wanted in ReadFile and
	// BurstReadFile requests. Marshal takes len(Data) when Size is 0.
	Size uint8
	Data []byte // at most DataMax bytes
}

// Marshal encodes p into a FILE_TRANSFER_PROTOCOL payload.
func (p *Packet) Marshal() ([PayloadLen]byte, error) {
	var b [PayloadLen]byte
	if len(p.Data) > DataMax {
		return b, fmt.Errorf("mavftp: %s with %d data bytes, at most %d fit", p.Opcode, len(p.Data), DataMax)
	}
	size := p.Size
	if size == 0 {
		size = uint8(len(p.Data))
	} else if int(size) < len(p.Data) {
		return b, fmt.Errorf("mavftp: %s with %d data bytes but size %d", p.Opcode, len(p.Data), size)
	}
	binary.LittleEndian.PutUint16(b[0:], p.Seq)
	b[2] = p.Session
	b[3] = uint8(p.Opcode)
	b[4] = size
	b[5] = uint8(p.ReqOpcode)
	if p.BurstComplete {
		b[6] = 1
	}
	binary.LittleEndian.PutUint32(b[8:], p.Offset)
	copy(b[HeaderLen:], p.Data)
	return b, nil
}

// Unmarshal decodes a FILE_TRANSFER_PROTOCOL payload. Data is a copy of the
// Size bytes after the header (for a read request: zeros). A size field
// larger than the payload can carry is an error.
func Unmarshal(b *[PayloadLen]byte) (Packet, error) {
	p := Packet{
		Seq:           binary.LittleEndian.Uint16(b[0:]),
		Session:       b[2],
		Opcode:        Opcode(b[3]),
		ReqOpcode:     Opcode(b[5]),
		BurstComplete: b[6] != 0,
		Offset:        binary.LittleEndian.Uint32(b[8:]),
	}
	size := int(b[4])
	if size > DataMax {
		return p, fmt.Errorf("mavftp: %s seq %d declares %d data bytes, at most %d fit", p.Opcode, p.Seq, size, DataMax)
	}
	p.Size = uint8(size)
	p.Data = append([]byte(nil), b[HeaderLen:HeaderLen+size]...)
	return p, nil
}

// NakCode returns the error code of a NAK and, for ErrFailErrno, the errno
// (0 when absent). A NAK without data reports ErrFail, as a reader must
// still treat it as a refusal.
func (p *Packet) NakCode() (ErrorCode, uint8) {
	if len(p.Data) == 0 {
		return ErrFail, 0
	}
	code := ErrorCode(p.Data[0])
	var errno uint8
	if code == ErrFailErrno && len(p.Data) > 1 {
		errno = p.Data[1]
	}
	return code, errno
}

// CRC32 is the checksum CalcFileCRC32 answers with: ArduPilot's crc_crc32
// started at 0, the IEEE polynomial without the usual pre- and
// post-inversion.
func CRC32(b []byte) uint32 {
	return ^crc32.Update(^uint32(0), crc32.IEEETable, b)
}
