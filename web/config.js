// Where the page finds the API. Served by the app itself: leave apiBase empty (same origin).
// Deployed as static files (S3, CDN): set apiBase to the API's URL, e.g. "https://abc.execute-api.eu-west-1.amazonaws.com",
// and list the page's origin in the server's CORS_ORIGINS. A query parameter overrides it: index.html?api=https://...
window.OCR_CONFIG = {
  apiBase: "",
  // Images above this many bytes go through a presigned S3 upload when the server has one configured.
  maxBytes: 10 * 1024 * 1024,
  // "auto": the browser's language (zh* -> Chinese, anything else -> English). "zh" or "en" forces a
  // default. Either way ?lang=en|zh overrides it, and a language picked on the page is remembered.
  lang: "auto",
};
