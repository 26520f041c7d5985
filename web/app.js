// OCR web page: pick / drop / paste one or many images or PDFs, send them one after another to POST /api/ocr,
// show each file's lines and boxes (a PDF page by page, on the page previews the server renders:
// `previews=true`), download a searchable PDF (`output=pdf`). No build step, no dependencies. The API
// base URL comes from config.js or ?api=...
(function () {
  "use strict";

  const CONFIG = Object.assign({ apiBase: "", maxBytes: 10 * 1024 * 1024, lang: "auto" }, window.OCR_CONFIG || {});
  const params = new URLSearchParams(location.search);
  const API = (params.get("api") || CONFIG.apiBase || "").replace(/\/+$/, "");
  const TIMEOUT_MS = 180000;
  const LANG_KEY = "ocr.lang";
  const PASTE_KEY = /Mac|iPhone|iPad/.test(navigator.platform || "") ? "⌘V" : "Ctrl+V";

  // Localized text for every error code the API returns (docs/api.md, "Errors") plus the page's own
  // (network_error, timeout, upload_failed, unknown_type, too_big_local, bad_response).
  // Each entry: [title, message]; a message may be a function of {name, mb}.
  const ERRORS = {
    zh: {
      invalid_image: ["图片无法读取", "文件不是有效的图片，或者已损坏、不完整。请换一个 JPG、PNG、WebP、BMP 或 TIFF 文件。"],
      unsupported_media_type: ["不支持的格式", "服务器不识别这种文件格式（例如 GIF、SVG、HEIC）。请转换成 JPG、PNG 或 PDF 后重试。"],
      pdf_encrypted: ["PDF 已加密", "这个 PDF 有密码保护，无法读取。请先去除密码后重试。"],
      pdf_invalid: ["PDF 无法读取", "文件不是有效的 PDF，或者已损坏、不完整、没有页面。"],
      too_many_pages: ["页数太多", "这个文件的页数超过了单次识别的上限。请在“识别选项”中填写页码，只识别部分页面，或拆分文件。"],
      page_too_large: ["页面尺寸异常", "PDF 中有尺寸大得离谱的页面，无法渲染。"],
      invalid_pages: ["页码无效", "“识别选项”中的页码超出了文件的页数范围，或格式不正确（例如 1-3,7）。"],
      image_too_large: ["图片太大", "图片超过了服务器允许的文件大小或像素数。请缩小或压缩后重试。"],
      payload_too_large: ["文件太大", "上传的内容超过了服务器的大小上限。请缩小或压缩图片后重试。"],
      invalid_json: ["请求格式错误", "服务器无法解析请求内容（JSON 无效）。请刷新页面后重试。"],
      invalid_multipart: ["上传出错", "服务器无法解析上传的文件。请重试。"],
      invalid_base64: ["请求格式错误", "图片数据的 base64 编码无效。"],
      missing_field: ["请求缺少图片", "请求中没有图片。请重新选择文件后重试。"],
      invalid_constraint: ["识别选项有误", "“只识别这些字符”、“不识别这些字符”、“格式”或“热词”无法使用（详见下方服务器说明）。请修改后重试。"],
      invalid_parameter: ["识别选项无效", "服务器不接受这些识别选项。请刷新页面后重试。"],
      not_found: ["找不到服务", "服务器上没有这个地址。请检查 API 地址设置。"],
      method_not_allowed: ["请求方式错误", "服务器不接受这种请求方式。请检查 API 地址设置。"],
      server_busy: ["服务器繁忙", "当前排队的图片太多，请稍后重试。"],
      engine_unavailable: ["识别引擎不可用", "服务器的识别模型没有加载成功，请联系管理员。"],
      storage_error: ["存储服务出错", "服务器无法读取上传到云存储的图片，请稍后重试。"],
      internal_error: ["服务器内部错误", "服务器出现了意外错误。请重试；如果仍然失败，请把下面的详情发给管理员。"],
      ocr_error: ["识别失败", "这张图片无法识别。"],
      invalid_s3_key: ["上传出错", "服务器不认可这次上传，请重试。"],
      s3_key_not_found: ["找不到上传的图片", "上传的图片不存在或已过期，请重试。"],
      forbidden_s3_key: ["上传出错", "这张上传的图片不属于当前令牌，请重新上传。"],
      unauthorized: ["需要访问令牌", "这个服务需要访问令牌。请向管理员索取，再次点击识别时输入。"],
      rate_limited: ["请求太频繁", "短时间内发送的请求太多，请稍等片刻再试。"],
      uploads_not_configured: ["图片太大", (x) => `图片超过了直接识别的上限（${x.mb} MB），服务器也没有开启大图上传。请缩小或压缩后重试。`],
      http_error: ["请求失败", "服务器返回了错误。"],
      network_error: ["无法连接到服务器", "请检查网络或服务器地址后重试。"],
      timeout: ["等待超时", "服务器太久没有回应，请稍后重试。"],
      upload_failed: ["上传失败", "图片没能上传到云存储。请检查网络后重试。"],
      unknown_type: ["无法判断图片格式", (x) => `无法从文件类型、扩展名或内容判断“${x.name}”是哪种图片，所以没有发送。请选择 JPG、PNG、WebP、BMP 或 TIFF 文件（文件名以 .jpg、.png、.webp、.bmp 或 .tif 结尾）。`],
      too_big_local: ["图片太大", (x) => `图片超过 ${x.mb} MB。请压缩或缩小后重试。`],
      bad_response: ["服务器响应异常", "服务器返回的内容无法解析。"],
      default: ["识别失败", "出现了未知错误。"],
    },
    en: {
      invalid_image: ["The image can't be read", "The file is not a valid image, or it is damaged or incomplete. Try a JPG, PNG, WebP, BMP or TIFF file."],
      unsupported_media_type: ["Unsupported format", "The server doesn't read this file format (e.g. GIF, SVG, HEIC). Convert it to JPG, PNG or PDF and try again."],
      pdf_encrypted: ["Encrypted PDF", "This PDF is password-protected and can't be read. Remove the password and try again."],
      pdf_invalid: ["The PDF can't be read", "The file is not a valid PDF, or it is damaged, incomplete or has no pages."],
      too_many_pages: ["Too many pages", "The document has more pages than one request may OCR. Pick some pages under Options, or split it."],
      page_too_large: ["Absurd page size", "The PDF has a page far too large to render."],
      invalid_pages: ["Invalid pages", "The pages under Options are outside the document or malformed (e.g. 1-3,7)."],
      image_too_large: ["Image too large", "The image is over the server's size or pixel limit. Shrink or compress it and try again."],
      payload_too_large: ["File too large", "The upload is over the server's size limit. Shrink or compress the image and try again."],
      invalid_json: ["Malformed request", "The server couldn't parse the request (invalid JSON). Reload the page and try again."],
      invalid_multipart: ["Upload error", "The server couldn't read the uploaded file. Try again."],
      invalid_base64: ["Malformed request", "The image data is not valid base64."],
      missing_field: ["No image in the request", "The request carried no image. Choose the file again and retry."],
      invalid_constraint: ["Check the options", "The allowed or refused characters, the shape or the hot words can't be used (the server's detail is below). Change them and retry."],
      invalid_parameter: ["Invalid options", "The server refused these recognition options. Reload the page and try again."],
      not_found: ["Service not found", "The server has no such address. Check the API address setting."],
      method_not_allowed: ["Wrong request method", "The server doesn't accept this kind of request. Check the API address setting."],
      server_busy: ["Server busy", "Too many images are waiting; please try again in a moment."],
      engine_unavailable: ["Recognition engine unavailable", "The server's models failed to load; contact the administrator."],
      storage_error: ["Storage error", "The server couldn't read the image from cloud storage; try again later."],
      internal_error: ["Server error", "Something unexpected went wrong on the server. Try again; if it keeps failing, send the details below to the administrator."],
      ocr_error: ["Recognition failed", "This image couldn't be recognised."],
      invalid_s3_key: ["Upload error", "The server didn't accept this upload; try again."],
      s3_key_not_found: ["Uploaded image not found", "The uploaded image is missing or expired; try again."],
      forbidden_s3_key: ["Upload error", "This upload belongs to another token; upload the image again."],
      unauthorized: ["Access token needed", "This service needs an access token. Ask its administrator, then enter it when you run recognition again."],
      rate_limited: ["Too many requests", "Too many requests in a short time; wait a moment and try again."],
      uploads_not_configured: ["Image too large", (x) => `The image is over the direct limit (${x.mb} MB) and this server has no large-image uploads. Shrink or compress it and try again.`],
      http_error: ["Request failed", "The server returned an error."],
      network_error: ["Can't reach the server", "Check your connection or the server address and try again."],
      timeout: ["Timed out", "The server took too long to answer; try again later."],
      upload_failed: ["Upload failed", "The image couldn't be uploaded to cloud storage. Check your connection and try again."],
      unknown_type: ["Unknown image type", (x) => `Neither the file type, its extension nor its content tell what kind of image “${x.name}” is, so it was not sent. Choose a JPG, PNG, WebP, BMP or TIFF file (named .jpg, .png, .webp, .bmp or .tif).`],
      too_big_local: ["Image too large", (x) => `The image is over ${x.mb} MB. Shrink or compress it and try again.`],
      bad_response: ["Unexpected server answer", "The server's answer couldn't be read."],
      default: ["Recognition failed", "Something went wrong."],
    },
  };

  const STRINGS = {
    zh: {
      docTitle: "高精度文字识别 · OCR",
      title: "高精度文字识别",
      subtitle: "中英文 · 发票 · 票据 · 文档照片",
      imageHeading: "图片 / PDF",
      addMore: "添加图片",
      clearAll: "清空",
      dropTitle: "拖放图片或 PDF 到这里",
      dropSub: `或 点击选择文件 · 直接粘贴 (${PASTE_KEY}) · 可一次选择多张`,
      dropTitleTouch: "添加图片",
      dropSubTouch: "点按选择图片或拍照，可一次选择多张",
      pick: "选择图片",
      camera: "拍照",
      formats: (mb) => `支持 JPG、PNG、WebP、BMP、TIFF、PDF · 每个文件最大 ${mb} MB`,
      noPreview: "无法预览此文件",
      noPreviewDone: "浏览器无法预览此格式 · 框按原图比例显示",
      zoomIn: "放大",
      zoomOut: "缩小",
      zoomFit: "适应",
      close: "关闭",
      options: "识别选项",
      optDetect: "检测多行文字（关闭 = 整张图是一行文字）",
      optCls: "自动校正倒置的文字行 (0°/180°)",
      optPages: "PDF 页码（留空 = 全部）",
      optForceOcr: "PDF 中已有文字的页面也重新识别",
      optAllowlist: "只识别这些字符（留空 = 不限）",
      optBlocklist: "不识别这些字符",
      shapedBy: "识别受此选项约束",
      patternFallback: "不符合格式",
      optPattern: "格式（正则表达式，如车牌）",
      optHotwords: "热词（逗号分隔，可写 词:权重）",
      clsDefault: (on) => `（服务器默认：${on ? "开" : "关"}）`,
      clsUnknown: "（由服务器决定）",
      clsChosen: "（本次已手动设置）",
      run: "开始高精度识别",
      running: "识别中…",
      runningN: (i, n) => `识别中 ${i}/${n}…`,
      uploading: "上传中…",
      tokenPrompt: (api) => `${api} 需要访问令牌。请输入令牌（只发给这个地址，只保存在本标签页，关闭即清除）：`,
      runCount: (n) => `${n} 张`,
      resultsHeading: "识别结果",
      lines: (n) => `· ${n} 行`,
      serverTime: "处理时间",
      roundTrip: "往返",
      cached: "缓存",
      turned: "已转正",
      skew: "倾斜",
      copyAll: "复制全部",
      exportTxt: "导出 TXT",
      exportJson: "导出 JSON",
      exportAllTxt: "全部导出 TXT",
      exportAllJson: "全部导出 JSON",
      downloadPdf: "下载可搜索 PDF",
      pdfReady: "可搜索 PDF 已下载",
      pagePrev: "上一页",
      pageNext: "下一页",
      pageOf: (i, n) => `第 ${i} / ${n} 页`,
      pageHead: (i) => `第 ${i} 页`,
      copy: "复制",
      copied: "已复制",
      copiedAll: (n) => `已复制 ${n} 行`,
      copyFailed: "复制失败，请手动选择文字",
      emptyText: "选择图片并点击“开始高精度识别”，识别出的文字会显示在这里。",
      pendingText: "等待识别。点击“开始高精度识别”。",
      runningText: "正在识别…",
      noText: "没有识别到文字。可以换一张更清晰的图片，或在“识别选项”中调整设置。",
      footer: "PP-OCR 模型 · ONNX Runtime · CPU 推理",
      apiDocs: "API 文档",
      confidence: "置信度",
      remove: "移除",
      stPending: "等待",
      stRunning: "识别中…",
      stDone: (n) => `${n} 行`,
      stDoneDoc: (p, n) => `${p} 页 · ${n} 行`,
      queueSummary: (n, done, failed) => `${n} 个文件 · 已完成 ${done}` + (failed ? ` · 失败 ${failed}` : ""),
      skipped: (n, names) => `已跳过 ${n} 个不是图片或 PDF 的文件：${names}`,
      duplicates: (n) => `${n} 个文件已在列表中`,
      serverDetail: "服务器信息",
      errorCode: "错误码",
    },
    en: {
      docTitle: "Accurate OCR",
      title: "Accurate text recognition",
      subtitle: "Chinese & English · invoices · receipts · document photos",
      imageHeading: "Images / PDFs",
      addMore: "Add images",
      clearAll: "Clear",
      dropTitle: "Drop images or PDFs here",
      dropSub: `or click to choose files · paste with ${PASTE_KEY} · several at once is fine`,
      dropTitleTouch: "Add images",
      dropSubTouch: "Tap to choose images or take a photo",
      pick: "Choose images",
      camera: "Take a photo",
      formats: (mb) => `JPG, PNG, WebP, BMP, TIFF, PDF · up to ${mb} MB each`,
      noPreview: "No preview available",
      noPreviewDone: "Your browser can't preview this format · boxes drawn to the image's proportions",
      zoomIn: "Zoom in",
      zoomOut: "Zoom out",
      zoomFit: "Fit",
      close: "Close",
      options: "Options",
      optDetect: "Detect text lines (off = the whole image is one line)",
      optCls: "Fix upside-down lines (0°/180°)",
      optPages: "PDF pages (empty = all)",
      optForceOcr: "OCR PDF pages that already have text, too",
      optAllowlist: "Only these characters (empty = any)",
      optBlocklist: "Never these characters",
      shapedBy: "read under this option",
      patternFallback: "shape not matched",
      optPattern: "Shape (regular expression, e.g. a plate)",
      optHotwords: "Hot words (comma-separated, term:weight allowed)",
      clsDefault: (on) => `(server default: ${on ? "on" : "off"})`,
      clsUnknown: "(the server decides)",
      clsChosen: "(set by you)",
      run: "Start accurate recognition",
      running: "Recognising…",
      runningN: (i, n) => `Recognising ${i}/${n}…`,
      uploading: "Uploading…",
      tokenPrompt: (api) => `${api} needs an access token. Enter it (sent only to that address, kept only in this browser tab until it is closed):`,
      runCount: (n) => `${n} files`,
      resultsHeading: "Results",
      lines: (n) => `· ${n} ${n === 1 ? "line" : "lines"}`,
      serverTime: "Processing",
      roundTrip: "round trip",
      cached: "cached",
      turned: "Turned upright",
      skew: "skew",
      copyAll: "Copy all",
      exportTxt: "Export TXT",
      exportJson: "Export JSON",
      exportAllTxt: "Export all TXT",
      exportAllJson: "Export all JSON",
      downloadPdf: "Download searchable PDF",
      pdfReady: "Searchable PDF downloaded",
      pagePrev: "Previous page",
      pageNext: "Next page",
      pageOf: (i, n) => `Page ${i} / ${n}`,
      pageHead: (i) => `Page ${i}`,
      copy: "Copy",
      copied: "Copied",
      copiedAll: (n) => `Copied ${n} ${n === 1 ? "line" : "lines"}`,
      copyFailed: "Copy failed; select the text by hand",
      emptyText: "Choose images and press “Start accurate recognition”; their text appears here.",
      pendingText: "Waiting. Press “Start accurate recognition”.",
      runningText: "Recognising…",
      noText: "No text found. Try a sharper image, or change the options.",
      footer: "PP-OCR models · ONNX Runtime · CPU inference",
      apiDocs: "API docs",
      confidence: "confidence",
      remove: "Remove",
      stPending: "waiting",
      stRunning: "recognising…",
      stDone: (n) => `${n} ${n === 1 ? "line" : "lines"}`,
      stDoneDoc: (p, n) => `${p} ${p === 1 ? "page" : "pages"} · ${n} ${n === 1 ? "line" : "lines"}`,
      queueSummary: (n, done, failed) => `${n} ${n === 1 ? "file" : "files"} · ${done} done` + (failed ? ` · ${failed} failed` : ""),
      skipped: (n, names) => `Skipped ${n} ${n === 1 ? "file that is" : "files that are"} not an image or a PDF: ${names}`,
      duplicates: (n) => `${n} ${n === 1 ? "file is" : "files are"} already in the list`,
      serverDetail: "server says",
      errorCode: "code",
    },
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    dropzone: $("dropzone"), fileInput: $("file-input"), cameraInput: $("camera-input"), pickBtn: $("pick-btn"),
    cameraBtn: $("camera-btn"), addBtn: $("add-btn"), clearBtn: $("clear-btn"), dropEmpty: $("drop-empty"),
    dropTitle: $("drop-title"), dropHint: $("drop-hint"), formats: $("formats"),
    preview: $("preview"), viewport: $("viewport"), stage: $("stage"), img: $("preview-img"), overlay: $("overlay"),
    noPreview: $("no-preview"), veil: $("busy-veil"), zoomIn: $("zoom-in"), zoomOut: $("zoom-out"), zoomFit: $("zoom-fit"),
    zoomLevel: $("zoom-level"), fileMeta: $("file-meta"), fileName: $("file-name"), notice: $("notice"),
    noticeText: $("notice-text"), noticeClose: $("notice-close"), queueWrap: $("queue-wrap"), queue: $("queue"),
    queueSummary: $("queue-summary"), exportAllTxt: $("export-all-txt"), exportAllJson: $("export-all-json"),
    runBtn: $("run-btn"), runCount: $("run-count"), optDetect: $("opt-detect"), optCls: $("opt-cls"), clsNote: $("cls-note"),
    optPages: $("opt-pages"), optForceOcr: $("opt-force-ocr"),
    lineCount: $("line-count"), stats: $("stats"), timeServer: $("time-server"), timeTotal: $("time-total"),
    orientStat: $("orient-stat"), orientValue: $("orient-value"),
    resultFile: $("result-file"), error: $("error"), errorTitle: $("error-title"), errorMsg: $("error-msg"),
    errorDetail: $("error-detail"), actions: $("actions"), copyAll: $("copy-all"), exportTxt: $("export-txt"),
    exportJson: $("export-json"), empty: $("empty"), emptyText: $("empty-text"), lines: $("lines"), toast: $("toast"),
    apiLink: $("api-link"), pagebar: $("pagebar"), pagePrev: $("page-prev"), pageNext: $("page-next"),
    pageLabel: $("page-label"), downloadPdf: $("download-pdf"),
  };

  let lang = pickLang();
  // The queue: one entry per file, processed one after another.
  // {id, file, name, size, mime, url, status: pending|running|done|error, result, error, optsKey, preview: null|true|false,
  //  previewSrc (the image `preview` is about), page (0-based index into result.pages of a PDF), s3Key (if uploaded)}
  const items = [];
  let nextId = 1;
  let selected = null;
  let busy = false;
  let busyLabel = "";
  let follow = true; // while running, show each file as it is processed until the user picks one
  let runTotal = 0;
  let runDone = 0;
  let notice = null; // {key, args}
  let toastTimer = 0;
  let zoom = 1; // 1 = the whole image fits the panel
  // Size limits: direct = sent in the request; max = largest accepted (through S3 when uploads are on).
  const limits = { direct: CONFIG.maxBytes, max: CONFIG.maxBytes, uploads: false, known: false };
  // The 0/180 classifier: null until /healthz says the server's default; the page only sends `cls`
  // when the user changed the box, so by default the page and the API give the same text.
  const server = { clsDefault: null };
  let clsTouched = false;

  // ------------------------------------------------------------------ i18n

  function browserLang() {
    const tag = navigator.language || (navigator.languages && navigator.languages[0]) || "";
    return /^zh\b/i.test(tag) ? "zh" : "en";
  }

  function pickLang() {
    const q = params.get("lang");
    if (q === "zh" || q === "en") return q;
    try {
      const saved = localStorage.getItem(LANG_KEY);
      if (saved === "zh" || saved === "en") return saved;
    } catch (_) { /* storage may be off */ }
    if (CONFIG.lang === "zh" || CONFIG.lang === "en") return CONFIG.lang;
    return browserLang();
  }

  function t(key, ...args) {
    const v = STRINGS[lang][key];
    return typeof v === "function" ? v(...args) : v;
  }

  const touchMQ = window.matchMedia("(pointer: coarse), (hover: none), (max-width: 640px)");
  const isTouch = () => touchMQ.matches;

  function applyLang() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("docTitle");
    document.body.classList.toggle("touch", isTouch());
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      let key = node.getAttribute("data-i18n");
      if (isTouch() && `${key}Touch` in STRINGS[lang]) key = `${key}Touch`;
      if (key in STRINGS[lang]) node.textContent = t(key);
    });
    document.querySelectorAll("[data-i18n-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-label")));
    });
    document.querySelectorAll(".lang-btn").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
    el.formats.textContent = t("formats", toMB(limits.max));
    renderClsNote();
    renderNotice();
    renderAll();
  }

  document.querySelectorAll(".lang-btn").forEach((b) =>
    b.addEventListener("click", () => {
      lang = b.dataset.lang;
      try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
      applyLang();
    })
  );
  if (touchMQ.addEventListener) touchMQ.addEventListener("change", applyLang);

  // ------------------------------------------------------------------ file types

  const MIME_BY_EXT = {
    jpg: "image/jpeg", jpeg: "image/jpeg", jfif: "image/jpeg", jpe: "image/jpeg", mpo: "image/jpeg",
    png: "image/png", webp: "image/webp", bmp: "image/bmp", tif: "image/tiff", tiff: "image/tiff",
    pdf: "application/pdf",
  };

  function mimeFromName(name) {
    const m = /\.([a-z0-9]+)$/i.exec(name || "");
    return (m && MIME_BY_EXT[m[1].toLowerCase()]) || null;
  }

  // The first bytes of the formats the server reads.
  async function sniffMime(f) {
    let b;
    try { b = new Uint8Array(await f.slice(0, 16).arrayBuffer()); } catch (_) { return null; }
    const at = (i, ...bytes) => bytes.every((x, k) => b[i + k] === x);
    if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
    if (at(0, 0x89, 0x50, 0x4e, 0x47)) return "image/png";
    if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return "image/webp";
    if (at(0, 0x42, 0x4d)) return "image/bmp";
    if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return "image/tiff";
    if (at(0, 0x25, 0x50, 0x44, 0x46)) return "application/pdf";
    return null;
  }

  // The image type to declare for a file: the browser's if it knows one, else from the content, else
  // from the extension. null: not an image (a type the browser knows and that is not image/*), or unknown.
  async function imageMime(f) {
    const type = (f.type || "").toLowerCase();
    if (type.startsWith("image/") || type === "application/pdf") return { mime: type };
    if (type && type !== "application/octet-stream") return { notImage: true };
    const mime = (await sniffMime(f)) || mimeFromName(f.name);
    return mime ? { mime } : { unknown: true };
  }

  // ------------------------------------------------------------------ the queue

  async function addFiles(list) {
    const files = Array.from(list || []).filter(Boolean);
    if (!files.length) return;
    const skipped = [];
    let dup = 0;
    const added = [];
    for (const f of files) {
      const kind = await imageMime(f);
      if (kind.notImage) { skipped.push(f.name || "?"); continue; }
      if (items.some((it) => it.file === f || (it.name === f.name && it.size === f.size && it.file.lastModified === f.lastModified))) {
        dup += 1;
        continue;
      }
      const item = {
        id: nextId++, file: f, name: f.name || "image", size: f.size, mime: kind.mime || null,
        url: URL.createObjectURL(f), status: "pending", result: null, error: null, optsKey: "", preview: null,
        previewSrc: "", page: 0, s3Key: "",
      };
      // Unknown type: not sent. The server would read the bytes, but a large file must declare an
      // image type to S3, and a file whose kind nothing tells is most likely not an image.
      if (kind.unknown) {
        item.blocked = true;
        item.status = "error";
        item.error = { code: "unknown_type", status: 0, ctx: { name: item.name } };
      }
      items.push(item);
      added.push(item);
    }
    if (skipped.length) notice = { key: "skipped", args: [skipped.length, skipped.join("、")] };
    else if (dup) notice = { key: "duplicates", args: [dup] };
    else notice = null;
    renderNotice();
    if (added.length && (!selected || !busy)) {
      select(added[0]);
    } else {
      renderAll();
    }
  }

  function removeItem(item) {
    if (item.status === "running") return;
    const i = items.indexOf(item);
    if (i < 0) return;
    items.splice(i, 1);
    URL.revokeObjectURL(item.url);
    if (selected === item) select(items[i] || items[i - 1] || null);
    else renderAll();
  }

  function clearAll() {
    if (busy) return;
    items.splice(0).forEach((it) => URL.revokeObjectURL(it.url));
    notice = null;
    renderNotice();
    select(null);
  }

  function select(item) {
    const changed = selected !== item;
    selected = item;
    if (changed) {
      zoom = 1;
      el.viewport.scrollTop = 0;
      el.viewport.scrollLeft = 0;
      if (item) {
        syncImage(item);
        el.img.alt = item.name;
      } else {
        el.img.removeAttribute("src");
        el.img.dataset.id = "";
        el.img.dataset.src = "";
      }
    }
    renderAll();
  }

  // The image shown for an item: a PDF page's preview from the server once recognised, else the file.
  function imageSrc(it) {
    const pg = currentPage(it);
    return (pg && pg.preview) || it.url;
  }

  function syncImage(it) {
    const src = imageSrc(it);
    if (el.img.dataset.id === String(it.id) && el.img.dataset.src === src) return;
    el.img.dataset.id = String(it.id);
    el.img.dataset.src = src;
    if (it.previewSrc !== src) {
      it.previewSrc = src;
      it.preview = null;
    }
    el.img.hidden = it.preview === false;
    el.img.removeAttribute("src");
    el.img.src = src;
  }

  const shownItem = () => items.find((it) => String(it.id) === el.img.dataset.id && it.previewSrc === el.img.dataset.src);
  el.img.addEventListener("load", () => {
    const item = shownItem();
    if (item) item.preview = true;
    renderPreview();
  });
  el.img.addEventListener("error", () => {
    const item = shownItem();
    if (!item) return;
    item.preview = false;
    renderPreview();
  });

  // ------------------------------------------------------------------ documents (PDF, multi-page TIFF)

  const pagesOf = (it) => (it && it.result && Array.isArray(it.result.pages) ? it.result.pages : null);

  function currentPage(it) {
    const pages = pagesOf(it);
    if (!pages || !pages.length) return null;
    it.page = Math.max(0, Math.min(it.page || 0, pages.length - 1));
    return pages[it.page];
  }

  // The lines and the pixel size the boxes refer to, of what is shown: the image, or the current page.
  function shownLines(it) {
    const pg = currentPage(it);
    return pg ? pg.text || [] : (it.result && it.result.text) || [];
  }

  function shownSize(it) {
    const pg = currentPage(it);
    const r = pg || (it && it.result);
    return r && r.width && r.height ? [r.width, r.height] : null;
  }

  function goPage(delta) {
    const pages = pagesOf(selected);
    if (!pages) return;
    const next = Math.max(0, Math.min(pages.length - 1, selected.page + delta));
    if (next === selected.page) return;
    selected.page = next;
    zoom = 1;
    el.viewport.scrollTop = 0;
    syncImage(selected);
    renderAll();
  }

  el.pagePrev.addEventListener("click", () => goPage(-1));
  el.pageNext.addEventListener("click", () => goPage(1));
  document.addEventListener("keydown", (e) => {
    if (!pagesOf(selected) || /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || "")) return;
    if (e.key === "PageDown") { e.preventDefault(); goPage(1); }
    if (e.key === "PageUp") { e.preventDefault(); goPage(-1); }
  });

  function renderPagebar() {
    const pages = pagesOf(selected);
    el.pagebar.hidden = !pages || pages.length < 1;
    if (el.pagebar.hidden) return;
    const pg = currentPage(selected);
    el.pageLabel.textContent = t("pageOf", selected.page + 1, pages.length);
    el.pageLabel.title = selected.result.page_count > pages.length ? `${pg.page} / ${selected.result.page_count}` : "";
    el.pagePrev.disabled = selected.page <= 0;
    el.pageNext.disabled = selected.page >= pages.length - 1;
  }

  // The searchable PDF of the selected file, asked again from the server (`output=pdf`; the result cache
  // makes it cheap), from the same bytes: the file, or the S3 key it was uploaded to.
  async function downloadSearchablePdf() {
    const it = selected;
    if (!it || it.status !== "done") return;
    const q = new URLSearchParams(it.optsKey);
    q.delete("previews");
    if (!pagesOf(it)) { q.delete("pages"); q.delete("force_ocr"); } // an image: one page, as it is
    q.set("output", "pdf");
    let init;
    if (it.s3Key) {
      init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ s3_key: it.s3Key }) };
    } else {
      const form = new FormData();
      form.append("image", partOf(it), it.name);
      init = { method: "POST", body: form };
    }
    el.downloadPdf.disabled = true;
    try {
      const resp = await fetch(`${API}/api/ocr?${q}`, init).catch(() => null);
      if (!resp) throw { status: 0, code: "network_error" };
      if (!resp.ok || !(resp.headers.get("content-type") || "").startsWith("application/pdf")) {
        let body = null;
        try { body = await resp.json(); } catch (_) { /* not JSON */ }
        const e = (body && body.error) || {};
        throw { status: resp.status, code: e.code || "bad_response", serverMessage: e.message || "" };
      }
      download(await resp.blob(), "application/pdf", `${baseName(it)}.ocr.pdf`);
      toast(t("pdfReady"));
    } catch (err) {
      toast(errorInfo(err).title);
    } finally {
      el.downloadPdf.disabled = false;
    }
  }
  el.downloadPdf.addEventListener("click", downloadSearchablePdf);

  // ------------------------------------------------------------------ choosing images

  const openPicker = () => el.fileInput.click();
  el.pickBtn.addEventListener("click", (e) => { e.stopPropagation(); openPicker(); });
  el.cameraBtn.addEventListener("click", (e) => { e.stopPropagation(); el.cameraInput.click(); });
  el.addBtn.addEventListener("click", openPicker);
  el.clearBtn.addEventListener("click", clearAll);
  el.dropzone.addEventListener("click", () => { if (!items.length) openPicker(); });
  el.dropzone.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === el.dropzone) { e.preventDefault(); openPicker(); }
  });
  [el.fileInput, el.cameraInput].forEach((input) =>
    input.addEventListener("change", () => {
      const files = Array.from(input.files || []);
      input.value = "";
      addFiles(files);
    })
  );

  ["dragenter", "dragover"].forEach((type) =>
    el.dropzone.addEventListener(type, (e) => { e.preventDefault(); el.dropzone.classList.add("dragover"); })
  );
  ["dragleave", "dragend", "drop"].forEach((type) =>
    el.dropzone.addEventListener(type, () => el.dropzone.classList.remove("dragover"))
  );
  el.dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files) addFiles(e.dataTransfer.files);
  });
  // Dropping outside the zone should not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  document.addEventListener("paste", (e) => {
    const items_ = (e.clipboardData && e.clipboardData.items) || [];
    const files = [];
    for (const item of items_) {
      if (item.kind === "file" && item.type.startsWith("image/")) {
        const blob = item.getAsFile();
        if (blob) {
          const ext = (item.type.split("/")[1] || "png").replace("jpeg", "jpg");
          files.push(blob.name ? blob : new File([blob], `pasted.${ext}`, { type: item.type }));
        }
      }
    }
    if (files.length) {
      e.preventDefault();
      addFiles(files);
    }
  });

  el.noticeClose.addEventListener("click", () => { notice = null; renderNotice(); });

  // ------------------------------------------------------------------ calling the API

  // The API's bearer token (OCR_API_TOKEN, AuthMode=token): asked for on a 401 and kept in this
  // tab's sessionStorage only; never in the page's files or its URL, never sent to S3. Kept per API
  // origin, and the prompt names it: a link with ?api=<another server> gets no token entered for
  // this one, and whoever is asked for a token sees whom it would go to.
  const API_ORIGIN = (() => { try { return new URL(API || "/", location.href).origin; } catch (_) { return location.origin; } })();
  const TOKEN_KEY = `ocr.token@${API_ORIGIN}`;
  function apiToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (_) { return ""; }
  }
  function askToken() {
    const entered = (window.prompt(t("tokenPrompt", API_ORIGIN)) || "").trim();
    try {
      if (entered) sessionStorage.setItem(TOKEN_KEY, entered); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) { return false; }
    return Boolean(entered);
  }

  async function callJson(url, init, retried) {
    const token = apiToken();
    const sent = token ? Object.assign({}, init, { headers: Object.assign({}, init && init.headers, { Authorization: `Bearer ${token}` }) }) : init;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    let resp;
    try {
      resp = await fetch(url, Object.assign({ signal: ctrl.signal }, sent));
    } catch (err) {
      throw { status: 0, code: err && err.name === "AbortError" ? "timeout" : "network_error" };
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (resp.status === 401 && !retried && askToken()) return callJson(url, init, true);
    if (!resp.ok || !body || body.success === false) {
      const e = (body && body.error) || {};
      throw {
        status: resp.status,
        code: e.code || (resp.ok ? "bad_response" : `http_${resp.status}`),
        serverMessage: e.message || "",
        requestId: (body && body.request_id) || resp.headers.get("X-Request-ID") || "",
      };
    }
    return body;
  }

  async function uploadLarge(item) {
    // POST /api/uploads refuses anything but image/* (ocrservice/uploads.py): never send octet-stream.
    if (!item.mime) throw { status: 0, code: "unknown_type", ctx: { name: item.name } };
    const info = await callJson(`${API}/api/uploads`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content_type: item.mime, filename: item.name, size: item.size }),
    }).catch((err) => {
      if (err.status === 501) err.ctx = { mb: toMB(limits.direct) };
      throw err;
    });
    const put = await fetch(info.upload_url, { method: "PUT", headers: info.headers || {}, body: item.file }).catch(() => null);
    if (!put || !put.ok) throw { status: put ? put.status : 0, code: "upload_failed" };
    return info.s3_key;
  }

  function currentQuery() {
    const q = new URLSearchParams({ detect: String(el.optDetect.checked) });
    if (clsTouched) q.set("cls", String(el.optCls.checked));
    // PDF options (the API ignores them for an image)
    const pages = el.optPages.value.replace(/\s+/g, "");
    if (pages) q.set("pages", pages);
    if (el.optForceOcr.checked) q.set("force_ocr", "true");
    // Domain vocabulary (docs/vocabulary.md): sent only when filled in.
    for (const name of ["allowlist", "blocklist", "pattern", "hotwords"]) {
      const value = $(`opt-${name}`).value.trim();
      if (value) q.set(name, value);
    }
    return q.toString();
  }

  // A PDF or TIFF may have several pages, which the browser can't draw: ask for the server's previews.
  function itemQuery(item, query) {
    const doc = item.mime === "application/pdf" || item.mime === "image/tiff";
    return doc ? `${query}&previews=true` : query;
  }

  // Declare the file's type even when the browser gave none (the part would be application/octet-stream).
  function partOf(item) {
    return item.mime && item.file.type !== item.mime ? new File([item.file], item.name, { type: item.mime }) : item.file;
  }

  async function recognise(item, query) {
    const started = performance.now();
    const url = `${API}/api/ocr?${itemQuery(item, query)}`;
    if (item.blocked) throw { status: 0, code: "unknown_type", ctx: { name: item.name } };
    let body;
    if (limits.known && item.size > limits.max) {
      throw { status: 413, code: "too_big_local", ctx: { mb: toMB(limits.max) } };
    }
    if (item.size > limits.direct && (limits.uploads || !limits.known)) {
      setBusyLabel(t("uploading"));
      const key = await uploadLarge(item);
      item.s3Key = key;
      setBusyLabel("");
      body = await callJson(url, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ s3_key: key }),
      });
    } else {
      const form = new FormData();
      form.append("image", partOf(item), item.name);
      body = await callJson(url, { method: "POST", body: form });
    }
    body.roundTrip = (performance.now() - started) / 1000;
    return body;
  }

  async function run() {
    if (busy || !items.length) return;
    const query = currentQuery();
    // Everything not yet recognised with these options; if all are, recognise the shown file again.
    let todo = items.filter((it) => !it.blocked && (it.status !== "done" || it.optsKey !== query));
    if (!todo.length && selected && !selected.blocked) todo = [selected];
    if (!todo.length) return;
    todo.forEach((it) => { it.status = "pending"; });
    busy = true;
    follow = true;
    runDone = 0;
    document.body.classList.add("is-busy");
    let item;
    while ((item = items.find((it) => it.status === "pending"))) {
      runTotal = runDone + items.filter((it) => it.status === "pending").length;
      item.status = "running";
      item.error = null;
      if (follow && selected !== item) select(item);
      else renderAll();
      try {
        item.result = await recognise(item, query);
        item.page = 0;
        item.optsKey = query;
        item.status = "done";
      } catch (err) {
        item.result = null;
        item.error = err && err.code ? err : { status: 0, code: "default", serverMessage: String(err) };
        item.status = "error";
      }
      runDone += 1;
      busyLabel = "";
      if (item === selected) renderAll(true);
      else renderAll();
    }
    busy = false;
    document.body.classList.remove("is-busy");
    renderAll();
  }
  el.runBtn.addEventListener("click", run);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") run();
  });

  function setBusyLabel(label) {
    busyLabel = label;
    renderRunButton();
  }

  // ------------------------------------------------------------------ rendering

  function renderAll(fresh) {
    const has = items.length > 0;
    el.dropEmpty.hidden = has;
    el.preview.hidden = !has;
    el.dropzone.classList.toggle("has-image", has);
    el.fileMeta.hidden = !has;
    el.clearBtn.disabled = busy;
    if (selected) {
      const pos = items.length > 1 ? ` (${items.indexOf(selected) + 1}/${items.length})` : "";
      el.fileName.textContent = `${selected.name} · ${formatBytes(selected.size)}${pos}`;
      el.fileName.title = selected.name;
    }
    renderRunButton();
    renderQueue();
    renderPagebar();
    renderPreview();
    renderResult(fresh);
  }

  function renderRunButton() {
    el.runBtn.classList.toggle("busy", busy);
    el.runBtn.disabled = busy || !items.length;
    el.runBtn.setAttribute("aria-busy", String(busy));
    let label = t("run");
    if (busy) label = busyLabel || (runTotal > 1 ? t("runningN", Math.min(runDone + 1, runTotal), runTotal) : t("running"));
    el.runBtn.querySelector(".label").textContent = label;
    const waiting = items.filter((it) => !it.blocked && (it.status === "pending" || it.status === "error")).length;
    el.runCount.hidden = busy || waiting < 2;
    el.runCount.textContent = t("runCount", waiting);
  }

  function statusText(it) {
    if (it.status === "pending") return t("stPending");
    if (it.status === "running") return t("stRunning");
    if (it.status === "done" && pagesOf(it)) return t("stDoneDoc", pagesOf(it).length, (it.result.text || []).length);
    if (it.status === "done") return t("stDone", (it.result.text || []).length);
    return errorInfo(it.error).title;
  }

  function renderQueue() {
    const many = items.length > 1;
    el.queueWrap.hidden = !many;
    if (!many) { el.queue.innerHTML = ""; return; }
    const done = items.filter((it) => it.status === "done").length;
    const failed = items.filter((it) => it.status === "error").length;
    el.queueSummary.textContent = t("queueSummary", items.length, done, failed);
    el.exportAllTxt.disabled = el.exportAllJson.disabled = done + failed === 0;
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".q-item");
    const focusId = focused ? focused.dataset.id : null;
    el.queue.innerHTML = "";
    items.forEach((it, i) => {
      const li = document.createElement("li");
      li.className = "q-item";
      li.dataset.id = String(it.id);
      li.dataset.status = it.status;
      li.classList.toggle("current", it === selected);
      const main = document.createElement("button");
      main.type = "button";
      main.className = "q-main";
      if (it === selected) main.setAttribute("aria-current", "true");
      const idx = document.createElement("span");
      idx.className = "q-idx";
      idx.textContent = String(i + 1);
      const name = document.createElement("span");
      name.className = "q-name";
      name.textContent = it.name;
      name.title = it.name;
      const st = document.createElement("span");
      st.className = "q-status";
      st.textContent = statusText(it);
      main.append(idx, name, st);
      main.addEventListener("click", () => { follow = false; select(it); });
      li.appendChild(main);
      if (it.status !== "running") {
        const rm = document.createElement("button");
        rm.type = "button";
        rm.className = "q-remove";
        rm.textContent = "×";
        rm.setAttribute("aria-label", `${t("remove")}: ${it.name}`);
        rm.title = t("remove");
        rm.addEventListener("click", () => removeItem(it));
        li.appendChild(rm);
      }
      el.queue.appendChild(li);
      if (focusId === li.dataset.id) main.focus({ preventScroll: true });
    });
    const cur = el.queue.querySelector('[aria-current="true"]');
    if (cur && busy && follow) {
      const box = el.queue.getBoundingClientRect();
      const r = cur.getBoundingClientRect();
      if (r.top < box.top || r.bottom > box.bottom) el.queue.scrollTop += r.top - box.top - box.height / 2;
    }
  }

  function renderPreview() {
    const it = selected;
    el.veil.hidden = !(it && it.status === "running");
    if (!it) return;
    syncImage(it);
    const noPreview = it.preview === false;
    el.img.hidden = noPreview;
    el.stage.classList.toggle("placeholder", noPreview);
    el.noPreview.hidden = !noPreview;
    el.noPreview.classList.toggle("bad", noPreview && it.status === "error");
    if (noPreview) {
      // Never promise what the server has not said: neutral before, the server's verdict after.
      el.noPreview.textContent = it.status === "error" ? errorInfo(it.error).title
        : it.status === "done" ? t("noPreviewDone") : t("noPreview");
    }
    applyZoom();
  }

  function confClass(c) {
    return c >= 0.9 ? "" : c >= 0.7 ? "mid" : "low";
  }

  function renderResult(fresh) {
    const it = selected;
    el.lines.innerHTML = "";
    el.overlay.innerHTML = "";
    el.resultFile.hidden = !(it && items.length > 1);
    el.resultFile.textContent = it ? it.name : "";
    if (it && it.error) showError(it.error);
    else el.error.hidden = true;
    const body = it && it.result;
    if (!body) {
      el.empty.hidden = Boolean(it && it.error);
      el.emptyText.textContent = !it ? t("emptyText") : it.status === "running" ? t("runningText") : t("pendingText");
      el.actions.hidden = true;
      el.stats.hidden = true;
      el.lineCount.textContent = "";
      return;
    }
    const lines = shownLines(it);
    const size = shownSize(it) || [1, 1];
    el.lineCount.textContent = t("lines", lines.length);
    el.stats.hidden = false;
    el.timeServer.textContent = formatSeconds(body.processing_time) + (body.cached ? ` (${t("cached")})` : "");
    el.timeTotal.textContent = formatSeconds(body.roundTrip || 0);
    const turnedBy = orientationOf(currentPage(it) || body);
    el.orientStat.hidden = !turnedBy;
    el.orientValue.textContent = turnedBy;
    el.actions.hidden = (body.text || []).length === 0 && !pagesOf(it);
    el.copyAll.hidden = el.exportTxt.hidden = el.exportJson.hidden = (body.text || []).length === 0;
    el.empty.hidden = lines.length > 0;
    if (!lines.length) el.emptyText.textContent = t("noText");

    const NS = "http://www.w3.org/2000/svg";
    el.overlay.setAttribute("viewBox", `0 0 ${size[0]} ${size[1]}`);
    el.overlay.setAttribute("preserveAspectRatio", "none");
    lines.forEach((line, i) => {
      const poly = document.createElementNS(NS, "polygon");
      poly.setAttribute("points", line.box.map((p) => p.join(",")).join(" "));
      poly.dataset.index = String(i);
      const title = document.createElementNS(NS, "title");
      title.textContent = line.text;
      poly.appendChild(title);
      el.overlay.appendChild(poly);

      const li = document.createElement("li");
      li.className = "line";
      li.dataset.index = String(i);
      const idx = document.createElement("span");
      idx.className = "idx";
      idx.textContent = String(i + 1);
      const text = document.createElement("span");
      text.className = "text";
      text.textContent = line.text;
      // Which vocabulary option shaped the line (docs/vocabulary.md), or that its shape was not matched.
      const shaped = [line.constraint, line.pattern_fallback ? t("patternFallback") : ""].filter(Boolean).join(" · ");
      if (shaped) {
        const tag = document.createElement("small");
        tag.className = "shaped";
        tag.textContent = shaped;
        tag.title = t("shapedBy");
        text.append(" ", tag);
      }
      const conf = document.createElement("span");
      conf.className = `conf ${confClass(line.confidence)}`;
      conf.textContent = `${(line.confidence * 100).toFixed(1)}%`;
      conf.title = `${t("confidence")} ${line.confidence}`;
      const copy = document.createElement("button");
      copy.type = "button";
      copy.className = "copy-one";
      copy.textContent = t("copy");
      copy.setAttribute("aria-label", `${t("copy")}: ${line.text}`);
      copy.addEventListener("click", (e) => { e.stopPropagation(); copyText(line.text, t("copied")); });
      li.append(idx, text, conf, copy);
      el.lines.appendChild(li);

      const on = () => highlight(i, true);
      const off = () => highlight(i, false);
      li.addEventListener("mouseenter", on);
      li.addEventListener("mouseleave", off);
      li.addEventListener("focusin", on);
      li.addEventListener("focusout", off);
      li.addEventListener("click", () => revealBox(i));
      poly.addEventListener("mouseenter", () => { on(); li.scrollIntoView({ block: "nearest", behavior: "smooth" }); });
      poly.addEventListener("mouseleave", off);
      poly.addEventListener("click", () => li.scrollIntoView({ block: "center", behavior: "smooth" }));
    });
    if (fresh && items.length === 1 && window.matchMedia("(max-width: 860px)").matches) {
      el.lines.closest(".panel").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  function highlight(i, on) {
    const li = el.lines.querySelector(`.line[data-index="${i}"]`);
    const poly = el.overlay.querySelector(`polygon[data-index="${i}"]`);
    if (li) li.classList.toggle("hi", on);
    if (poly) {
      poly.classList.toggle("hi", on);
      if (on) el.overlay.appendChild(poly); // draw on top of its neighbours
    }
  }

  // Zoomed in: scroll the preview so the line's box is in view.
  function revealBox(i) {
    const poly = el.overlay.querySelector(`polygon[data-index="${i}"]`);
    if (!poly || zoom <= 1) return;
    const vp = el.viewport.getBoundingClientRect();
    const r = poly.getBoundingClientRect();
    el.viewport.scrollLeft += r.left + r.width / 2 - (vp.left + vp.width / 2);
    el.viewport.scrollTop += r.top + r.height / 2 - (vp.top + vp.height / 2);
  }

  // {title, message, detail} for an error from the API or from the page, in the current language.
  function errorInfo(err) {
    const table = ERRORS[lang];
    let code = err.code || "default";
    let entry = table[code];
    if (!entry) {
      const s = err.status || 0;
      const fallback = s === 0 ? "network_error" : s === 413 ? "image_too_large" : s === 415 ? "unsupported_media_type"
        : s === 503 ? "server_busy" : s === 404 ? "not_found" : s >= 500 ? "internal_error" : "default";
      entry = table[fallback];
    }
    const ctx = Object.assign({ name: "", mb: toMB(limits.direct) }, err.ctx || {});
    const message = typeof entry[1] === "function" ? entry[1](ctx) : entry[1];
    const detail = [code];
    if (err.status) detail.push(`HTTP ${err.status}`);
    if (err.serverMessage) detail.push(`${t("serverDetail")}: ${err.serverMessage}`);
    if (err.requestId) detail.push(`request_id ${err.requestId}`);
    return { title: entry[0], message, detail: detail.join(" · ") };
  }

  function showError(err) {
    const info = errorInfo(err);
    el.errorTitle.textContent = info.title;
    el.errorMsg.textContent = info.message;
    el.errorDetail.textContent = info.detail;
    el.error.hidden = false;
  }

  function renderNotice() {
    el.notice.hidden = !notice;
    if (notice) el.noticeText.textContent = t(notice.key, ...notice.args);
  }

  function renderClsNote() {
    el.clsNote.textContent = clsTouched ? t("clsChosen")
      : server.clsDefault === null ? t("clsUnknown") : t("clsDefault", server.clsDefault);
  }

  el.optCls.indeterminate = true; // until /healthz says what the server does by default
  el.optPages.addEventListener("input", renderRunButton);
  el.optForceOcr.addEventListener("change", renderRunButton);
  el.optCls.addEventListener("change", () => {
    clsTouched = true;
    renderClsNote();
    renderRunButton();
  });

  // ------------------------------------------------------------------ zoom

  const MAX_ZOOM = 8;

  function contentSize() {
    if (!el.img.hidden && el.img.naturalWidth) return [el.img.naturalWidth, el.img.naturalHeight];
    return selected ? shownSize(selected) : null;
  }

  // Width of the stage at zoom 1: the whole image in the panel, never enlarged past its own pixels.
  function fitWidth() {
    const cs = getComputedStyle(el.preview);
    const availW = Math.max(50, el.preview.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight));
    const availH = Math.max(200, Math.floor(window.innerHeight * 0.7) - 2);
    const size = contentSize();
    if (!size) return Math.min(availW, Math.floor((availH * 16) / 9));
    const [w, h] = size;
    const fit = Math.min(availW, (availH * w) / h);
    return Math.max(1, Math.floor(el.img.hidden ? fit : Math.min(fit, w)));
  }

  function applyZoom() {
    if (el.preview.hidden) return;
    const size = contentSize();
    const width = Math.round(fitWidth() * zoom);
    el.stage.style.width = `${width}px`;
    el.stage.style.aspectRatio = size ? `${size[0]} / ${size[1]}` : "16 / 9";
    $("zoombar").hidden = !size; // nothing to zoom on a blank page without boxes
    el.zoomLevel.textContent = `${Math.round(size ? (width / size[0]) * 100 : zoom * 100)}%`;
    el.zoomOut.disabled = zoom <= 1;
    el.zoomFit.disabled = zoom === 1;
    el.zoomIn.disabled = zoom >= MAX_ZOOM;
    el.preview.classList.toggle("zoomed", zoom > 1);
  }

  // Zoom keeping the point (x, y) of the viewport (client pixels, default its centre) in place.
  function setZoom(z, x, y) {
    z = Math.min(MAX_ZOOM, Math.max(1, z));
    if (Math.abs(z - 1) < 0.02) z = 1;
    if (z === zoom) return;
    const vp = el.viewport;
    const box = vp.getBoundingClientRect();
    const cx = x === undefined ? vp.clientWidth / 2 : x - box.left;
    const cy = y === undefined ? vp.clientHeight / 2 : y - box.top;
    const px = vp.scrollLeft + cx - el.stage.offsetLeft;
    const py = vp.scrollTop + cy - el.stage.offsetTop;
    const before = el.stage.offsetWidth || 1;
    zoom = z;
    applyZoom();
    const f = el.stage.offsetWidth / before;
    vp.scrollLeft = px * f + el.stage.offsetLeft - cx;
    vp.scrollTop = py * f + el.stage.offsetTop - cy;
  }

  el.zoomIn.addEventListener("click", () => setZoom(zoom * 1.5));
  el.zoomOut.addEventListener("click", () => setZoom(zoom / 1.5));
  el.zoomFit.addEventListener("click", () => setZoom(1));
  // Ctrl + wheel (and a trackpad pinch, which browsers report as one) zooms around the pointer.
  el.viewport.addEventListener("wheel", (e) => {
    if (!e.ctrlKey && !e.metaKey) return;
    e.preventDefault();
    setZoom(zoom * Math.exp(-e.deltaY * 0.0025), e.clientX, e.clientY);
  }, { passive: false });
  // Two-finger pinch on touch screens; one finger scrolls the zoomed image.
  let pinch = null;
  const spread = (ts) => Math.hypot(ts[0].clientX - ts[1].clientX, ts[0].clientY - ts[1].clientY);
  el.viewport.addEventListener("touchstart", (e) => {
    if (e.touches.length === 2) pinch = { d: spread(e.touches), z: zoom };
  }, { passive: true });
  el.viewport.addEventListener("touchmove", (e) => {
    if (!pinch || e.touches.length !== 2) return;
    e.preventDefault();
    const [a, b] = e.touches;
    setZoom((pinch.z * spread(e.touches)) / pinch.d, (a.clientX + b.clientX) / 2, (a.clientY + b.clientY) / 2);
  }, { passive: false });
  el.viewport.addEventListener("touchend", (e) => { if (e.touches.length < 2) pinch = null; });
  el.viewport.addEventListener("dblclick", (e) => setZoom(zoom > 1 ? 1 : 2, e.clientX, e.clientY));

  if (window.ResizeObserver) new ResizeObserver(() => applyZoom()).observe(el.preview);
  window.addEventListener("resize", applyZoom);

  // ------------------------------------------------------------------ copy and export

  // Lines as text: one per line, a blank line where the block (paragraph, column) changes, so a
  // two-column page copies as two columns, not as one run of lines.
  function blockText(lines) {
    const out = [];
    lines.forEach((l, i) => {
      if (i > 0 && l.block !== undefined && l.block !== lines[i - 1].block) out.push("");
      out.push(l.text);
    });
    return out.join("\n");
  }
  const linesOf = (it) => ((it && it.result && it.result.text) || []).map((l) => l.text);

  // "90°", "0° · skew 3.2°" for a page the server turned or deskewed; "" for an upright one.
  function orientationOf(page) {
    const turned = (page && page.orientation) || 0;
    const skew = (page && page.skew) || 0;
    if (!turned && Math.abs(skew) < 0.5) return "";
    return `${turned}°` + (Math.abs(skew) >= 0.5 ? ` · ${t("skew")} ${skew.toFixed(1)}°` : "");
  }

  async function copyText(text, message) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) { /* fall back below */ }
    if (!ok) {
      const ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      ta.remove();
    }
    toast(ok ? message : t("copyFailed"));
  }

  function baseName(it) {
    return ((it && it.name) || "ocr").replace(/\.[^.]+$/, "") || "ocr";
  }

  // The API's answer as exported: without the page previews (images the server made for this page).
  function apiBody(it) {
    const { roundTrip, ...api } = it.result;
    if (Array.isArray(api.pages)) api.pages = api.pages.map(({ preview, ...page }) => page);
    return api;
  }

  // A file's text: its lines; a PDF's page by page, each under a "Page n" heading.
  function textOf(it) {
    const pages = pagesOf(it);
    if (!pages) return blockText((it && it.result && it.result.text) || []);
    return pages.map((pg) => `--- ${t("pageHead", pg.page)} ---\n` + blockText(pg.text || [])).join("\n\n");
  }

  function download(content, type, name) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  }

  el.copyAll.addEventListener("click", () => {
    const lines = linesOf(selected);
    copyText(pagesOf(selected) ? textOf(selected) : blockText(selected.result.text || []), t("copiedAll", lines.length));
  });
  el.exportTxt.addEventListener("click", () => {
    if (selected && selected.result) download(textOf(selected) + "\n", "text/plain;charset=utf-8", `${baseName(selected)}.txt`);
  });
  el.exportJson.addEventListener("click", () => {
    if (selected && selected.result) download(JSON.stringify(apiBody(selected), null, 2), "application/json", `${baseName(selected)}.json`);
  });

  // Every processed file, in queue order: its lines, or its error.
  const processed = () => items.filter((it) => it.status === "done" || it.status === "error");

  el.exportAllTxt.addEventListener("click", () => {
    const parts = processed().map((it) => {
      const head = `===== ${it.name} =====`;
      if (it.status === "error") {
        const info = errorInfo(it.error);
        return `${head}\n[${info.title}: ${info.detail}]`;
      }
      return `${head}\n${textOf(it)}`;
    });
    download(parts.join("\n\n") + "\n", "text/plain;charset=utf-8", "ocr-all.txt");
  });
  el.exportAllJson.addEventListener("click", () => {
    const files = processed().map((it) => {
      if (it.status === "done") return { file: it.name, ...apiBody(it) };
      const e = it.error || {};
      const out = { file: it.name, success: false, error: { code: e.code || "default", message: e.serverMessage || errorInfo(e).message } };
      if (e.requestId) out.request_id = e.requestId;
      return out;
    });
    download(JSON.stringify({ files }, null, 2), "application/json", "ocr-all.json");
  });

  function toast(message) {
    el.toast.textContent = message;
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.toast.hidden = true; }, 1600);
  }

  // ------------------------------------------------------------------ helpers

  function toMB(n) {
    return Math.round((n / 1048576) * 10) / 10;
  }

  // Learn the server's limits, whether large uploads go through S3, and its cls default. The page
  // works without it (config.js's numbers; `cls` left to the server). Polls while the models load.
  let healthTries = 0;
  function loadServerInfo() {
    fetch(`${API}/healthz`, { cache: "no-store" })
      .then((r) => r.json())
      .then((h) => {
        if (typeof h.max_bytes === "number") limits.direct = Math.min(CONFIG.maxBytes, h.max_bytes);
        limits.uploads = Boolean(h.uploads);
        limits.known = typeof h.uploads === "boolean";
        limits.max = limits.uploads && h.upload_max_bytes ? Math.max(limits.direct, h.upload_max_bytes) : limits.direct;
        if (typeof h.cls_default === "boolean") {
          server.clsDefault = h.cls_default;
          if (!clsTouched) {
            el.optCls.indeterminate = false;
            el.optCls.checked = h.cls_default;
          }
        } else if (h.status === "loading" && healthTries++ < 60) {
          setTimeout(loadServerInfo, 3000);
        }
        applyLang();
      })
      .catch(() => { /* keep config.js's numbers */ });
  }

  function formatSeconds(sec) {
    return sec < 1 ? `${Math.max(1, Math.round(sec * 1000))} ms` : `${sec.toFixed(2)} s`;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1048576) return `${(n / 1024).toFixed(0)} KB`;
    return `${(n / 1048576).toFixed(1)} MB`;
  }

  if (API) el.apiLink.href = `${API}/docs`;
  applyLang();
  loadServerInfo();
})();
