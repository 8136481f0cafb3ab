using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>
/// A service's web application on real HTTP at a free loopback port (Kestrel, so requests come from loopback as they
/// do on an operator's machine), with the request-body limit the services install, and a client for it.
/// </summary>
public sealed class LoopbackWebApp : IAsyncDisposable
{
    private LoopbackWebApp(WebApplication app) => App = app;

    public WebApplication App { get; }

    public HttpClient Http { get; } = new();

    public static async Task<LoopbackWebApp> Start(
        IReadOnlyDictionary<string, string?> configuration, Action<WebApplicationBuilder> addServices, Action<WebApplication> mapEndpoints)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(configuration);
        addServices(builder);
        var app = builder.Build();
        app.UseRequestBodyLimit(app.Configuration);
        mapEndpoints(app);
        await app.StartAsync();
        var started = new LoopbackWebApp(app);
        started.Http.BaseAddress = new Uri(app.Urls.Single());
        return started;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
