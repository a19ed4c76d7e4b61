// A small candlestick chart on a <canvas>: bars are [ms start, open, high, low, close].
"use strict";
window.drawCandles = function (canvas, bars) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== w * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  if (!bars || bars.length === 0) {
    g.fillStyle = "#7d8894";
    g.fillText("no bars yet: deploy a worker that subscribes this instrument", 12, 20);
    return;
  }
  const axis = 70, top = 10, bottom = 22, plotW = w - axis - 8, plotH = h - top - bottom;
  const n = Math.min(bars.length, Math.floor(plotW / 4));
  const shown = bars.slice(bars.length - n);
  let lo = Infinity, hi = -Infinity;
  for (const b of shown) { lo = Math.min(lo, b[3]); hi = Math.max(hi, b[2]); }
  if (hi === lo) { hi += Math.abs(hi) * 1e-4 || 1; lo -= Math.abs(lo) * 1e-4 || 1; }
  const y = (p) => top + (hi - p) / (hi - lo) * plotH;
  const step = plotW / Math.max(n, 90), bw = Math.max(1, step * 0.6);  // few bars: stay slim
  const x0 = plotW - n * step;  // the newest bar at the right edge
  g.strokeStyle = "#30363d"; g.fillStyle = "#7d8894"; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const p = lo + (hi - lo) * i / 4, yy = Math.round(y(p)) + 0.5;
    g.beginPath(); g.moveTo(0, yy); g.lineTo(plotW, yy); g.stroke();
    g.fillText(p.toPrecision(8).replace(/\.?0+$/, ""), plotW + 6, yy + 4);
  }
  shown.forEach((b, i) => {
    const x = x0 + i * step + step / 2, up = b[4] >= b[1];
    g.strokeStyle = g.fillStyle = up ? "#3fb950" : "#f85149";
    g.beginPath(); g.moveTo(Math.round(x) + 0.5, y(b[2])); g.lineTo(Math.round(x) + 0.5, y(b[3]));
    g.stroke();
    const y0 = y(Math.max(b[1], b[4])), y1 = y(Math.min(b[1], b[4]));
    g.fillRect(x - bw / 2, y0, bw, Math.max(1, y1 - y0));
  });
  g.fillStyle = "#7d8894";
  const t0 = new Date(shown[0][0]), t1 = new Date(shown[shown.length - 1][0]);
  g.fillText(t0.toLocaleTimeString(), Math.max(2, x0), h - 6);
  const s1 = t1.toLocaleTimeString();
  g.fillText(s1, plotW - g.measureText(s1).width, h - 6);
};
