// Package browser holds adsync's real-browser test, behind the build tag
// `browser` (`make e2e-browser`): the built worker, enqueuer and mock run a
// sync with poison records, then headless Chromium opens asynqmon's archived
// tab of the saves queue, checks that every dead-lettered record is listed
// with its reason, and saves a screenshot as docs/img/asynqmon-dead-letters.png (shown in
// docs/operations.md) after checking that the picture is not blank. It needs
// Debian's chromium, which the make target installs, so CI does not run it.
package browser
