package video

// H.264 over RTP (RFC 6184) inspection: only what the relay needs to find
// keyframes and parameter sets. Packets are forwarded untouched.

const (
	nalIDR   = 5
	nalSPS   = 7
	nalPPS   = 8
	nalSTAPA = 24
	nalFUA   = 28
)

// nalInfo says which NAL unit types a packet's payload starts or carries:
// for a fragmented unit (FU-A) only its first fragment counts.
type nalInfo struct {
	idr, sps, pps bool
}

func inspectH264(payload []byte) nalInfo {
	var ni nalInfo
	if len(payload) < 1 {
		return ni
	}
	mark := func(t byte) {
		switch t {
		case nalIDR:
			ni.idr = true
		case nalSPS:
			ni.sps = true
		case nalPPS:
			ni.pps = true
		}
	}
	switch t := payload[0] & 0x1f; t {
	case nalSTAPA:
		for p := payload[1:]; len(p) > 2; {
			n := int(p[0])<<8 | int(p[1])
			if n == 0 || 2+n > len(p) {
				break
			}
			mark(p[2] & 0x1f)
			p = p[2+n:]
		}
	case nalFUA:
		if len(payload) >= 2 && payload[1]&0x80 != 0 {
			mark(payload[1] & 0x1f)
		}
	default:
		mark(t)
	}
	return ni
}
