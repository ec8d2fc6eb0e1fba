package gen

import (
	"math/rand/v2"
	"strconv"
)

// NarrowHeader is the CSV header of Narrow files: ten columns and no Id, so
// every row's Id is derived (Attributes.Interests repeats).
var NarrowHeader = []string{
	"ChannelType", "Address", "Attributes.Note", "Attributes.Interests", "Attributes.Interests",
	"Metrics.Sessions", "User.UserId", "User.UserAttributes.FirstName", "User.UserAttributes.Plan", "Demographic.Platform",
}

var narrowNotes = []string{`vip, since 2019`, `says "hi", often`, `prefers email`, `a, b and "c"`}

// Narrow returns a generated CSV file of n narrow rows (and its header): e-mail
// and SMS addresses, a quoted field with commas and doubled quotes, a repeated
// Attributes.* column, a metric and user attributes. Such rows pay the fixed
// costs of a row (the derived Id, address normalisation) that wide rows hide.
func Narrow(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed27c0d8f3a1b5))
	var b []byte
	for i, h := range NarrowHeader {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	b = append(b, '\n')
	for i := 1; i <= n; i++ {
		first := firstNames[rng.IntN(len(firstNames))]
		if rng.IntN(2) == 0 {
			b = append(b, "EMAIL,"...)
			b = append(b, first+"."+lastNames[rng.IntN(len(lastNames))]+strconv.Itoa(i)+"@example.com"...)
		} else {
			b = append(b, "SMS,+1206"...)
			b = strconv.AppendInt(b, int64(5550000+rng.IntN(9999999-5550000)), 10)
		}
		b = append(b, ',')
		b = appendCSVField(b, narrowNotes[rng.IntN(len(narrowNotes))])
		b = append(b, ',')
		b = append(b, interests[rng.IntN(len(interests))]...)
		b = append(b, ',')
		if rng.IntN(2) == 0 {
			b = append(b, interests[rng.IntN(len(interests))]...)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(rng.IntN(500)), 10)
		b = append(b, ",user-"...)
		b = strconv.AppendInt(b, int64(rng.IntN(i)), 10)
		b = append(b, ',')
		b = append(b, first...)
		b = append(b, ',')
		b = append(b, [...]string{"free", "pro", "team"}[rng.IntN(3)]...)
		b = append(b, ',')
		b = append(b, devices[rng.IntN(len(devices))].platform...)
		b = append(b, '\n')
	}
	return b
}
