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

    /// <summary>
    /// Stops the app within a bounded time: one fresh-clone suite run hung idle for over ten minutes at this point (cause
    /// not found yet), so a stop that takes longer is reported on stderr instead of holding up the suite.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StopAsync(stopping.Token);
        try
        {
            await App.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            await Console.Error.WriteLineAsync("LoopbackWebApp: the service under test did not finish disposing within 60 s; left behind");
        }
    }
}
