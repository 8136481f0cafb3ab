using MassTransit;
using Microsoft.Extensions.Configuration;

namespace SegmentationEvents.ServiceDefaults;

public static class MassTransitDefaults
{
    /// <summary>
    /// MassTransit reports usage to its vendor's host unless told not to; our services stay off the network beyond
    /// their broker and database unless <c>MassTransit:UsageTelemetry</c> is true.
    /// </summary>
    public static void ApplyUsageTelemetrySetting(this IBusRegistrationConfigurator bus, IConfiguration configuration)
    {
        if (!configuration.GetValue("MassTransit:UsageTelemetry", false))
        {
            bus.DisableUsageTelemetry();
        }
    }
}
