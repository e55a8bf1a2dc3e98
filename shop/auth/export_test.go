package auth

// HoldBcryptSlots takes every bcrypt slot of s, as that many running comparisons would,
// until release is called.
func HoldBcryptSlots(s *Service) (release func()) {
	for range cap(s.bcryptSlots) {
		s.bcryptSlots <- struct{}{}
	}
	return func() {
		for range cap(s.bcryptSlots) {
			<-s.bcryptSlots
		}
	}
}
