using Microsoft.Extensions.FileProviders;

namespace Segmentation.Service.OperatorConsole;

/// <summary>
/// The operator console: static pages and scripts embedded in the service (OperatorConsole/Assets), served at <c>/</c>. They hold
/// no data: every figure is fetched from the admin API, which applies <see cref="SegmentationEvents.ServiceDefaults.AdminAccess"/>
/// to each call (the pages send the key the operator typed, kept in the tab's sessionStorage).
/// </summary>
public static class ConsolePages
{
    private const string OverviewPage = "index.html";

    // Scripts and styles come from the service only; nothing inline, nothing from elsewhere.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    public static WebApplication MapConsole(this WebApplication app)
    {
        var assets = new EmbeddedFileProvider(typeof(ConsolePages).Assembly, typeof(ConsolePages).Namespace + ".Assets");
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = assets,
            OnPrepareResponse = context => Secure(context.Context.Response),
        });
        app.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], (HttpContext context) =>
        {
            Secure(context.Response);
            return Results.Stream(assets.GetFileInfo(OverviewPage).CreateReadStream(), "text/html; charset=utf-8");
        }).ExcludeFromDescription();
        return app;
    }

    private static void Secure(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "no-cache";
    }
}
