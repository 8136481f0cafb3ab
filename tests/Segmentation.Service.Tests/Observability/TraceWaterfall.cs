using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Segmentation.Service.Tests.Observability;

/// <summary>Draws captured spans as a Jaeger-like waterfall (SVG), for the README's picture of a real trace.</summary>
public static class TraceWaterfall
{
    public static string Svg(IReadOnlyList<Activity> trace)
    {
        const int row = 22, label = 430, width = 1100;
        var spans = trace.OrderBy(s => s.StartTimeUtc).ToList();
        var start = spans[0].StartTimeUtc;
        var total = spans.Max(s => (s.StartTimeUtc + s.Duration - start).TotalMilliseconds);
        var scale = (width - label - 20) / total;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{(spans.Count + 2) * row}\" font-family=\"monospace\" font-size=\"12\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"15\">trace {spans[0].TraceId}: {total:0.0} ms from upstream publish to notification send</text>");
        for (var i = 0; i < spans.Count; i++)
        {
            var span = spans[i];
            var depth = Depth(spans, span);
            var y = (i + 1) * row + 4;
            var x = label + (span.StartTimeUtc - start).TotalMilliseconds * scale;
            var color = span.Source.Name switch
            {
                "MassTransit" => "#e8a33d",
                "Npgsql" or "Marten" => "#4f86c6",
                "Segmentation.Service" => "#5aa469",
                _ => "#b65fcf",
            };
            svg.Append(CultureInfo.InvariantCulture,
                $"<text x=\"{4 + depth * 10}\" y=\"{y + 13}\">{WebUtility.HtmlEncode($"{span.Source.Name}: {span.DisplayName}")}</text>");
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{x:0.0}\" y=\"{y + 2}\" width=\"{Math.Max(1, span.Duration.TotalMilliseconds * scale):0.0}\" height=\"{row - 6}\" fill=\"{color}\"/>");
            svg.Append(CultureInfo.InvariantCulture,
                $"<text x=\"{x + Math.Max(1, span.Duration.TotalMilliseconds * scale) + 4:0.0}\" y=\"{y + 13}\">{span.Duration.TotalMilliseconds:0.0} ms</text>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static int Depth(List<Activity> spans, Activity span)
    {
        var depth = 0;
        for (var parent = spans.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null;
             parent = spans.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
            depth++;
        return depth;
    }
}
