// No browser is downloaded at install: the tests use PUPPETEER_EXECUTABLE_PATH, else the
// system's chromium or google-chrome, else a browser already in puppeteer's cache
// (see tools/chromium.ts).
module.exports = { skipDownload: true };
