package orion

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The file side of a trace (spec sections 1-3, 10): the prelude, one zstd frame per flushed
// batch of records, the end record and the trailer. Callers hold the trace's lock.

// frameTarget bounds what a kill -9 loses by size (docs/security.md); trace.armFlush
// bounds it by time.
const frameTarget = 64 << 10

var (
	preludeMagic = []byte{0x5A, 0x2A, 0x4D, 0x18}
	encoder, _   = zstd.NewWriter(nil, zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithZeroFrames(true),
		zstd.WithSingleSegment(true), zstd.WithNoEntropyCompression(true)) // single segment: even a frame under 256 bytes declares its size (spec 3)
)

type fileWriter struct {
	path, tmpPath string
	file          *os.File
	buf           []byte // the records of the frame being filled
	frameT        int64  // the time of the frame's last timed record
	crc           uint32 // of every record flushed so far
	records       uint64
}

func (w *fileWriter) open(spool, name string, header []byte) error {
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return err
	}
	w.path = filepath.Join(spool, name)
	w.tmpPath = filepath.Join(spool, "."+name+".tmp")
	f, err := os.OpenFile(w.tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w.file = f
	prelude := append(append([]byte{}, preludeMagic...), 16, 0, 0, 0)
	prelude = append(prelude, "\x89OTRACE\n"...)
	prelude = append(prelude, 1, 0, 0, 0, 0, 0, 0, 0)
	if _, err := f.Write(prelude); err != nil {
		return err
	}
	w.buf = append(w.buf[:0], header...)
	w.records++
	w.flush()
	w.written() // the header is on disk from the start (docs/security.md)
	return os.Rename(w.tmpPath, w.path)
}

// timed starts a timed record: its array header, type code, dt and lane.
func (w *fileWriter) timed(code, columns int, t int64, lane uint64) {
	w.records++
	w.buf = mpArray(w.buf, columns)
	w.buf = mpUint(w.buf, uint64(code))
	w.buf = mpInt(w.buf, t-w.frameT)
	w.frameT = t
	w.buf = mpUint(w.buf, lane)
}

// bare writes a call (code 4, with function id fn) or a return (5, fn < 0) without
// values, in one append when its numbers fit in a byte, as they mostly do.
func (w *fileWriter) bare(code byte, t int64, lane uint64, fn int64) {
	dt := t - w.frameT
	if uint64(dt)|lane|uint64(fn+1) < 128 {
		w.records++
		w.frameT = t
		if fn >= 0 {
			w.buf = append(w.buf, 0x94, code, byte(dt), byte(lane), byte(fn))
		} else {
			w.buf = append(w.buf, 0x93, code, byte(dt), byte(lane))
		}
		return
	}
	if fn >= 0 {
		w.timed(int(code), 4, t, lane)
		w.buf = mpUint(w.buf, uint64(fn))
	} else {
		w.timed(int(code), 3, t, lane)
	}
}

// untimed starts a definition record.
func (w *fileWriter) untimed(code, columns int) {
	w.records++
	w.buf = mpArray(w.buf, columns)
	w.buf = mpUint(w.buf, uint64(code))
}

// flushIfFull ends the frame when it has reached its size.
func (w *fileWriter) flushIfFull() {
	if len(w.buf) >= frameTarget {
		w.flush()
	}
}

// flush ends the frame: its records go to the compressing goroutine, and the frame
// fills a fresh buffer meanwhile.
func (w *fileWriter) flush() {
	if len(w.buf) == 0 || w.file == nil {
		return
	}
	w.crc = crc32.Update(w.crc, crc32.IEEETable, w.buf)
	remeasureClock()
	raw, file := w.buf, w.file
	compressing.Do(startCompressing)
	frames <- func() {
		packed = encoder.EncodeAll(raw, packed[:0])
		file.Write(packed)
		select {
		case spareBuffers <- raw[:0]:
		default: // enough spares: this one goes to the garbage collector
		}
	}
	select {
	case w.buf = <-spareBuffers:
	default:
		w.buf = make([]byte, 0, frameTarget+frameTarget/4)
	}
	w.frameT = 0
}

// Compression runs on a goroutine of its own, as the C agent's writer thread: the
// program's goroutines only fill frames. Frames are written in the order they were
// handed over; a goroutine that hands over a frame while queuedFrames wait is held back
// until one is written, which bounds memory.
const queuedFrames = 4

var (
	compressing  sync.Once
	frames       = make(chan func(), queuedFrames)
	spareBuffers = make(chan []byte, queuedFrames+1)
	packed       []byte // the compressing goroutine's output buffer
)

func startCompressing() {
	go func() {
		for job := range frames {
			job()
		}
	}()
}

// written waits until every frame handed over so far is in the file.
func (w *fileWriter) written() {
	compressing.Do(startCompressing)
	done := make(chan struct{})
	frames <- func() { close(done) }
	<-done
}

// finish writes the end record (summary built by the caller, given the checksum and the
// record count) and the trailer, and closes the file.
func (w *fileWriter) finish(summary func(checksum uint32, records uint64) []byte) {
	if w.file == nil {
		return
	}
	checksum := crc32.Update(w.crc, crc32.IEEETable, w.buf)
	packed := summary(checksum, w.records)
	w.buf = mpArray(w.buf, 2)
	w.buf = mpUint(w.buf, 15)
	w.buf = append(w.buf, packed...)
	w.flush()
	w.written()
	trailer := append([]byte{}, preludeMagic...)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(packed)+12))
	trailer = append(trailer, packed...)
	trailer = binary.LittleEndian.AppendUint32(trailer, uint32(len(packed)))
	trailer = append(trailer, "\x89OTREND\n"...)
	w.file.Write(trailer)
	w.file.Close()
	w.file = nil
}
